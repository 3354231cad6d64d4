// A Codex run's figures and outcome: the run's own tokens (its running totals minus the thread's total before
// it), the cost from coding.pricing (Codex reports no price), and success, a failed task, or an error a retry
// cannot fix (auth), might fix (no turn end) or that starts a new conversation (not_found).
import type { AgentOutcome, AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import type { Tokens } from '../../contract.js';
import type { ProcessOutcome } from '../../process/spawn.js';
import { truncate } from '../../text.js';
import { priceTokens, type Pricing } from '../pricing.js';
import { sanitize } from './environment.js';
import type { CodexUsage } from './rollout.js';
import type { CodexStreamReader } from './stream-reader.js';
import { MAX_SUMMARY, stoppedError } from '../stopped-run.js';

/**
 * The contract's Tokens from the difference of two running totals. OpenAI counts cached input inside
 * input_tokens and reasoning inside output_tokens; the contract counts each once: input without cache reads,
 * output without reasoning (pricing.ts prices output + reasoning at the output price).
 */
export function runTokens(total: CodexUsage | undefined, before: CodexUsage | undefined): Tokens {
  const d = (key: keyof CodexUsage) => Math.max(0, num(total?.[key]) - num(before?.[key]));
  const input = d('input_tokens');
  const cached = Math.min(input, d('cached_input_tokens'));
  const output = d('output_tokens');
  const reasoning = Math.min(output, d('reasoning_output_tokens'));
  return { input: input - cached, cache_read: cached, cache_write: d('cache_write_input_tokens'), output: output - reasoning, reasoning };
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0;
}

export function interpret(run: {
  stream: CodexStreamReader;
  outcome: ProcessOutcome;
  tokens: Tokens;
  model: string | undefined;
  pricing: Pricing | undefined;
  started: number;
  timeoutMs: number;
  secrets: string[];
  task: AgentTask;
  codexHome: string;
}): AgentOutcome {
  const { stream, outcome, secrets, task } = run;
  const priced = priceTokens(run.tokens, run.model, run.pricing);
  const base: AgentOutcome = {
    success: false,
    summary: truncate(sanitize(stream.lastAgentText(), secrets), MAX_SUMMARY),
    backend_session_id: stream.threadId ?? task.backend_session_id,
    tokens: run.tokens,
    cost: priced.cost,
    cost_source: priced.source,
    duration_ms: Date.now() - run.started,
    num_turns: stream.turns || undefined,
    tool_calls: stream.finalToolCalls(),
  };
  // We stopped it: whatever it printed after its tools were killed is not a finished task.
  const stopped = stoppedError(outcome, run.timeoutMs);
  if (stopped) return { ...base, error: stopped };

  const stderr = sanitize(outcome.stderrTail, secrets).trim();
  // 0.169.0, resuming a thread this CODEX_HOME does not have: "Error: thread/resume: thread/resume failed:
  // no rollout found for thread id <id>" on stderr, exit 1, nothing on stdout.
  if (task.backend_session_id && !stream.threadId && /no rollout found|thread not found|session not found/i.test(stderr)) {
    throw threadNotFound(task.backend_session_id, run.codexHome);
  }
  const failure = stream.failure ?? (stream.completed ? undefined : stream.fatalErrors().at(-1));
  if (failure && /\b(401|403)\b|unauthorized|forbidden|invalid.api.key|not logged in|login/i.test(failure)) {
    throw new CodingError(
      truncate(
        `the model API rejected Codex's credentials (${sanitize(failure, secrets)}): set the provider's key variable ` +
          `(coding.codex.env, e.g. OPENAI_API_KEY) or run \`codex login\` as the worker's user`,
        2000,
      ),
      'auth',
      false,
    );
  }
  if (stream.completed && !stream.failure && outcome.exitCode === 0) return { ...base, success: true };
  if (failure) return { ...base, error: truncate(`codex: ${sanitize(failure, secrets)}`, 2000) };
  const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
  throw new CodingError(truncate(`Codex ${how} without finishing its turn${stderr ? `: ${stderr.slice(-1500)}` : ''}`, 2000), 'unavailable', true);
}

export function threadNotFound(threadId: string, codexHome: string): CodingError {
  return new CodingError(
    `Codex thread ${threadId} not found in this worker's Codex state (${codexHome}/sessions); ` +
      'it may have been created on another worker or its state deleted',
    'not_found',
  );
}
