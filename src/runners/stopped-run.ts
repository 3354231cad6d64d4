// What every runner's outcome rules share: how long a summary may be, and that a run we stopped (its time limit,
// a cancel) is not a finished task, whatever it wrote after its tools were killed.
import type { ProcessOutcome } from '../process/spawn.js';

/** Keeps a task's result far below Temporal's 2 MB payload limit. */
export const MAX_SUMMARY = 20_000;

/** The error of a run we stopped, or undefined when it ended by itself. */
export function stoppedError(outcome: Pick<ProcessOutcome, 'timedOut' | 'cancelled'>, timeoutMs: number): string | undefined {
  if (outcome.timedOut) return `timed out after ${Math.round(timeoutMs / 1000)}s`;
  if (outcome.cancelled) return 'cancelled';
  return undefined;
}
