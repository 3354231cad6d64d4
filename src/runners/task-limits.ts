// How long a task may run, the same rule for every runner: the task's own limit or the runner's configured
// one, whichever is smaller.

/** The smaller of the task's timeout and the configured timeout in seconds (either may be unset or 0). */
export function effectiveTimeoutMs(taskTimeoutMs: number, timeoutSec: number): number {
  const candidates = [taskTimeoutMs, timeoutSec * 1000].filter((n) => Number.isFinite(n) && n > 0);
  return candidates.length ? Math.min(...candidates) : 30 * 60 * 1000;
}
