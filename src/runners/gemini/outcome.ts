// Deciding a Gemini CLI run's outcome from what the stream reported and how the process ended: success, a failed
// task (with its reason), or an error a retry cannot fix (authentication, settings) or might (no result).
import type { AgentOutcome, AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import type { Tokens } from '../../contract.js';
import type { ProcessOutcome } from '../../process/spawn.js';
import type { PricedCost } from '../pricing.js';
import { truncate } from '../../text.js';
import { sanitize } from './environment.js';
import type { StreamReader } from './stream-reader.js';
import { MAX_SUMMARY, stoppedError } from '../stopped-run.js';

export function interpret(run: {
  stream: StreamReader;
  outcome: ProcessOutcome;
  started: number;
  timeoutMs: number;
  secrets: string[];
  tokens: Tokens;
  price: PricedCost;
  geminiDir: string;
  task: AgentTask;
}): AgentOutcome {
  const { stream, outcome, secrets } = run;
  const result = stream.result;
  const clean = (text: string, max = 2000) => truncate(sanitize(text, secrets), max);
  const base: AgentOutcome = {
    success: false,
    summary: clean(stream.lastAssistantText(), MAX_SUMMARY),
    backend_session_id: stream.sessionId,
    tokens: run.tokens,
    cost: run.price.cost,
    cost_source: run.price.source,
    duration_ms: Date.now() - run.started,
    num_turns: stream.turns,
    tool_calls: stream.finalToolCalls(),
  };

  // We stopped it: whatever it wrote after its tools were killed is not a finished task.
  const stopped = stoppedError(outcome, run.timeoutMs);
  if (stopped) return { ...base, error: stopped };

  if (!result) {
    const stderr = sanitize(outcome.stderrTail, secrets).trim();
    if (/Invalid auth method selected|must specify the GEMINI_API_KEY/i.test(stderr)) {
      throw new CodingError(
        'the Gemini CLI has no usable credentials: set GEMINI_API_KEY (coding.gemini.env or the worker environment), or log in with ' +
          'Google as the worker user and set coding.gemini.config.security.auth.selectedType to oauth-personal' +
          ` (settings written to ${run.geminiDir}/settings.json)`,
        'auth',
        false,
      );
    }
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    throw new CodingError(truncate(`the Gemini CLI ${how} without a result${stderr ? `: ${lastLines(stderr)}` : ''}`, 2000), 'unavailable', true);
  }

  if (result.status !== 'success') {
    const message = result.error?.message ?? 'no message';
    // 0.61.0 gives no status field for an API error; the message carries the API's own error body.
    if (/"code":\s*(401|403)\b|UNAUTHENTICATED|PERMISSION_DENIED|API key not valid/i.test(message)) {
      throw new CodingError(
        clean(`the model API refused the Gemini CLI's credentials (${message}): check GEMINI_API_KEY (coding.gemini.env or the worker environment) or the Google login`),
        'auth',
        false,
      );
    }
    return { ...base, error: clean(`the Gemini CLI failed (${result.error?.type ?? 'error'}): ${message}`) };
  }
  if (stream.errors.length > 0) return { ...base, error: clean(`the Gemini CLI stopped: ${stream.errors.join('; ')}`) };
  return { ...base, success: true };
}

/** The end of stderr without the stack trace lines the CLI prints after its message. */
function lastLines(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => !/^\s+at /.test(line));
  return lines.slice(-20).join('\n').slice(-1500);
}
