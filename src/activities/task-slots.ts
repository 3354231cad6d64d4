// The per-worker limit on code tasks running at once (coding.max_concurrent_tasks). A limit on Temporal's
// activity slots would count every git operation too, and a task not yet started on the host's queue would be
// taken for a lost worker (worker_lost_after_sec); so a task starts, heartbeats, and waits here for its turn,
// first come first served, with its place in line in its heartbeat (shown by `status`).
import { availableParallelism, freemem } from 'node:os';

/** What a waiting task tells through its heartbeat. */
export interface SlotWait {
  /** Tasks ahead of this one in line. */
  ahead: number;
  limit: number;
}

/** Default limit: one task per core, and no more than free memory holds at ~1.5 GB per agent process tree. */
export function defaultTaskLimit(): number {
  return Math.max(1, Math.min(availableParallelism(), Math.floor(freemem() / (1.5 * 1024 ** 3))));
}

export class TaskSlots {
  private running = 0;
  private readonly line: Array<{ start: () => void; onMove: () => void }> = [];

  constructor(readonly limit: number) {}

  /**
   * Wait for a free slot; resolves with its release. `onWait` learns the place in line whenever it changes.
   * Rejects (leaving the line) when `signal` aborts.
   */
  acquire(signal: AbortSignal, onWait: (wait: SlotWait) => void): Promise<() => void> {
    if (this.running < this.limit && this.line.length === 0) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        start: () => {
          signal.removeEventListener('abort', abort);
          this.running++;
          resolve(this.releaser());
        },
        onMove: () => onWait({ ahead: this.line.indexOf(entry), limit: this.limit }),
      };
      const abort = () => {
        this.line.splice(this.line.indexOf(entry), 1);
        this.moved();
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', abort, { once: true });
      this.line.push(entry);
      entry.onMove();
    });
  }

  /** Tasks waiting now. */
  get waiting(): number {
    return this.line.length;
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.line.shift();
      if (next) next.start();
      this.moved();
    };
  }

  private moved(): void {
    for (const entry of this.line) entry.onMove();
  }
}
