// The settings a session runs with, decided once when it opens, from the worker's config and the start input.
// Pure, so the rules (a session's own budget wins over the config's; timeouts in ms) are plain to read and test.
import type { Budget, SessionStart } from '../contract.js';
import type { CodingConfig } from '../config.js';

export interface SessionSettings {
  cleanup_policy: CodingConfig['cleanup_policy'];
  idle_timeout_ms: number;
  /** How long a gated operation waits for a review decision before the session is closed. */
  approval_timeout_ms: number;
  task_timeout_ms: number;
  max_attempts: number;
  /** How long an operation waits for the worker holding the workspace before it is reported lost. */
  worker_lost_after_ms?: number;
  budget: Budget;
}

export function sessionSettings(config: CodingConfig, start: SessionStart): SessionSettings {
  const max_cost_usd = start.max_cost_usd ?? config.max_cost_usd;
  const max_tokens = start.max_tokens ?? config.max_tokens;
  return {
    cleanup_policy: start.cleanup_policy ?? config.cleanup_policy,
    idle_timeout_ms: config.idle_timeout_min * 60_000,
    approval_timeout_ms: config.approval_timeout_hours * 3_600_000,
    task_timeout_ms: config.task_timeout_min * 60_000,
    max_attempts: config.max_attempts,
    worker_lost_after_ms: config.worker_lost_after_sec * 1000,
    budget: {
      ...(max_cost_usd !== undefined ? { max_cost_usd } : {}),
      ...(max_tokens !== undefined ? { max_tokens } : {}),
    },
  };
}
