// Deciding a Copilot CLI run's outcome from what its stream reported and how the process ended: success, a failed
// task (with its reason), or an error a retry cannot fix (credentials) or might (no result).
import type { AgentOutcome, AgentTask, CostSource } from '../../core/runner.js';
import type { Tokens } from '../../contract.js';
import { CodingError } from '../../core/errors.js';
import { truncate } from '../../text.js';
import type { ProcessOutcome } from '../../process/spawn.js';
import { sanitize } from './environment.js';
import type { StreamReader } from './stream-reader.js';
import { MAX_SUMMARY, stoppedError } from '../stopped-run.js';

export function interpret(run: {
  stream: StreamReader;
  outcome: ProcessOutcome;
  conversationId: string;
  started: number;
  timeoutMs: number;
  secrets: string[];
  tokens: Tokens;
  price: { cost: number; source: CostSource };
  task: AgentTask;
}): AgentOutcome {
  const { stream, outcome, secrets } = run;
  const base: AgentOutcome = {
    success: false,
    summary: truncate(sanitize(stream.lastAssistantText(), secrets), MAX_SUMMARY),
    backend_session_id: stream.result?.sessionId ?? run.conversationId,
    tokens: run.tokens,
    cost: run.price.cost,
    cost_source: run.price.source,
    duration_ms: Date.now() - run.started,
    tool_calls: stream.finalToolCalls(),
  };
  // We stopped it: whatever it wrote after its tools were killed is not a finished task.
  const stopped = stoppedError(outcome, run.timeoutMs);
  if (stopped) return { ...base, error: stopped };

  const auth = stream.errors.find((e) => e.errorType === 'authentication' || e.statusCode === 401 || e.statusCode === 403);
  if (auth) {
    throw new CodingError(
      truncate(
        `the model provider refused the Copilot CLI's credentials (${sanitize(auth.message, secrets)}): set COPILOT_PROVIDER_API_KEY (with COPILOT_PROVIDER_BASE_URL) ` +
          'or COPILOT_GITHUB_TOKEN in coding.copilot.env or the worker environment',
        2000,
      ),
      'auth',
      false,
    );
  }
  const errors = stream.errors.map((e) => sanitize(e.message, secrets)).join('; ');
  if (!stream.result) {
    const stderr = sanitize(outcome.stderrTail, secrets).trim();
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    throw new CodingError(truncate(`the Copilot CLI ${how} without a result${errors || stderr ? `: ${errors || stderr.slice(-1500)}` : ''}`, 2000), 'unavailable', true);
  }
  if (stream.result.exitCode === 0 && stream.errors.length === 0) return { ...base, success: true };
  const stderr = sanitize(outcome.stderrTail, secrets).trim();
  return { ...base, error: truncate(errors || stderr.slice(-1500) || `the Copilot CLI exited with code ${stream.result.exitCode}`, 2000) };
}
