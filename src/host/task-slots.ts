// The per-worker limit on code tasks running at once (coding.max_concurrent_tasks), a Semaphore. A limit on
// Temporal's activity slots would count every git operation too, and a task not yet started on the host's queue
// would be taken for a lost worker (worker_lost_after_sec); so a task starts, heartbeats, and waits for its turn
// in the semaphore, first come first served, with its place in line in its heartbeat (shown by `status`).
import { availableParallelism, freemem } from 'node:os';

/** Default limit: one task per core, and no more than free memory holds at ~1.5 GB per agent process tree. */
export function defaultTaskLimit(): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(freemem() / (1.5 * 1024 ** 3))));
}
