// Deciding a Claude Code run's outcome from what the stream reported and how the process ended: success,
// a failed task (with its reason), or an error a retry cannot fix (authentication) or might (no result).
import type { AgentOutcome, AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import { truncate } from '../../text.js';
import { type ProcessOutcome } from '../../process/spawn.js';
import { sanitize } from './environment.js';
import type { ResultEvent, StreamReader } from './stream-reader.js';
import { MAX_SUMMARY, stoppedError } from '../stopped-run.js';

export function interpret(run: {
  stream: StreamReader;
  outcome: ProcessOutcome;
  started: number;
  timeoutMs: number;
  secrets: string[];
  home: string;
  task: AgentTask;
}): AgentOutcome {
  const { stream, outcome, secrets } = run;
  const result = stream.result;
  const base: AgentOutcome = {
    success: false,
    summary: truncate(sanitize(typeof result?.result === 'string' ? result.result : stream.lastAssistantText(), secrets), MAX_SUMMARY),
    backend_session_id: stream.sessionId,
    tokens: stream.tokens(),
    cost: typeof result?.total_cost_usd === 'number' && result.total_cost_usd > 0 ? result.total_cost_usd : 0,
    duration_ms: Date.now() - run.started,
    num_turns: typeof result?.num_turns === 'number' ? result.num_turns : undefined,
    tool_calls: stream.finalToolCalls(),
  };

  if (stream.authFailure) {
    throw new CodingError(
      `the model API rejected Claude Code's credentials (HTTP ${stream.authFailure.status}, ${stream.authFailure.error}): ` +
        `check ANTHROPIC_API_KEY (coding.claudecode.env or the worker environment) or the claude login under ${run.home}`,
      'auth',
      false,
    );
  }
  // We stopped it: whatever it wrote after its tools were killed (even a "success" result) is not a finished task.
  const stopped = stoppedError(outcome, run.timeoutMs);
  if (stopped) return { ...base, error: stopped };

  if (!result) {
    const stderr = sanitize(outcome.stderrTail, secrets).trim();
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    throw new CodingError(
      truncate(`Claude Code ${how} without a result${stderr ? `: ${stderr.slice(-1500)}` : ''}`, 2000),
      'unavailable',
      true,
    );
  }

  const apiStatus = result.api_error_status ?? undefined;
  if (result.is_error && (apiStatus === 401 || apiStatus === 403)) {
    throw new CodingError(
      truncate(`the model API refused the request (HTTP ${apiStatus}): ${sanitize(result.result ?? '', secrets)}`, 2000),
      'auth',
      false,
    );
  }
  // is_error wins over the subtype: an API error still ends with subtype "success".
  if (!result.is_error && result.subtype === 'success') return { ...base, success: true };
  return { ...base, summary: base.summary || stream.lastAssistantText(), error: truncate(sanitize(failureOf(result), secrets), 2000) };
}

function failureOf(result: ResultEvent): string {
  const details = [...(result.errors ?? []), ...(typeof result.result === 'string' ? [result.result] : [])].join('; ');
  switch (result.subtype) {
    case 'error_max_turns':
      return (
        `Claude Code stopped after ${result.num_turns ?? 'the maximum number of'} turns (--max-turns): ` +
        'raise coding.claudecode.max_turns to let it go further, or split the task'
      );
    case 'error_max_budget_usd':
      return `budget exceeded: Claude Code stopped at its --max-budget-usd guard${details ? ` (${details})` : ''}`;
    case 'error_during_execution':
      return `Claude Code failed during execution${details ? `: ${details}` : ''}`;
    default:
      if (/Unable to connect to API|ConnectionRefused|ECONNREFUSED|ENOTFOUND|ETIMEDOUT|fetch failed/i.test(details)) {
        return `Claude Code could not reach its model API (${details}): check ANTHROPIC_BASE_URL (coding.claudecode.env or the worker environment), that the endpoint is up, and that the worker can reach it`;
      }
      if (result.api_error_status) return `the model API returned HTTP ${result.api_error_status}${details ? `: ${details}` : ''}`;
      return `Claude Code reported an error (${result.subtype ?? 'unknown'})${details ? `: ${details}` : ''}`;
  }
}
