// Deciding a Qwen Code run's outcome from what its stream reported and how the process ended: success, a failed
// task (with its reason), or an error a retry cannot fix (credentials) or might (no result).
//
// Qwen's stream-json is Claude Code's shape (claudecode/stream-reader.ts reads it); what differs: a failed run ends
// with `result{subtype: "error_during_execution", is_error: true, error: {message: "[API Error: 401 ...]"}}`, and
// the result's `usage` is the conversation's running total (a resumed run counts earlier tasks again), so a task's
// tokens are the sum of its own messages.
import type { AgentOutcome, AgentTask, CostSource } from '../../core/runner.js';
import type { Tokens } from '../../contract.js';
import { CodingError } from '../../core/errors.js';
import { truncate } from '../../text.js';
import type { ProcessOutcome } from '../../process/spawn.js';
import type { StreamReader } from '../claudecode/stream-reader.js';
import { sanitize } from './environment.js';
import { MAX_SUMMARY, stoppedError } from '../stopped-run.js';

export function interpret(run: {
  stream: StreamReader;
  outcome: ProcessOutcome;
  started: number;
  timeoutMs: number;
  secrets: string[];
  tokens: Tokens;
  price: { cost: number; source: CostSource };
  task: AgentTask;
}): AgentOutcome {
  const { stream, outcome, secrets } = run;
  const result = stream.result;
  const base: AgentOutcome = {
    success: false,
    summary: truncate(sanitize(typeof result?.result === 'string' ? result.result : stream.lastAssistantText(), secrets), MAX_SUMMARY),
    backend_session_id: stream.sessionId,
    tokens: run.tokens,
    cost: run.price.cost,
    cost_source: run.price.source,
    duration_ms: Date.now() - run.started,
    num_turns: typeof result?.num_turns === 'number' ? result.num_turns : undefined,
    tool_calls: stream.finalToolCalls(),
  };
  // We stopped it: whatever it wrote after its tools were killed is not a finished task.
  const stopped = stoppedError(outcome, run.timeoutMs);
  if (stopped) return { ...base, error: stopped };

  if (!result) {
    const stderr = sanitize(outcome.stderrTail, secrets).trim();
    if (/No saved session found/i.test(stderr)) {
      throw new CodingError(`Qwen Code has no conversation ${stream.sessionId} on this worker`, 'not_found', false);
    }
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    throw new CodingError(truncate(`Qwen Code ${how} without a result${stderr ? `: ${stderr.slice(-1500)}` : ''}`, 2000), 'unavailable', true);
  }
  if (!result.is_error && result.subtype === 'success') return { ...base, success: true };

  const message = sanitize(errorMessage(result) || base.summary || `Qwen Code reported an error (${result.subtype ?? 'unknown'})`, secrets);
  if (/API Error:\s*40[13]\b/.test(message)) {
    throw new CodingError(
      truncate(`the model API refused Qwen Code's credentials (${message}): check OPENAI_API_KEY (coding.qwen.env or the worker environment)`, 2000),
      'auth',
      false,
    );
  }
  if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|fetch failed|Connection error/i.test(message)) {
    return { ...base, error: truncate(`Qwen Code could not reach its model API (${message}): check OPENAI_BASE_URL (coding.qwen.env or the worker environment) and that the endpoint is up`, 2000) };
  }
  return { ...base, error: truncate(message, 2000) };
}

function errorMessage(result: object): string {
  const error = (result as { error?: unknown }).error;
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && typeof (error as { message?: unknown }).message === 'string') return (error as { message: string }).message;
  const errors = (result as { errors?: unknown }).errors;
  return Array.isArray(errors) ? errors.map(String).join('; ') : '';
}
