// A counting semaphore, first come first served: the worker's task slots (coding.max_concurrent_tasks) and a
// NATS agent's (coding.nats.agent.concurrency). A waiter can learn its place in line (a task shows it in
// `status`) and give up (its cancel); someone who only wants to know when a slot is free can ask without
// taking one (an agent pulls new sessions only then).

/** Where a waiter stands. */
export interface SlotWait {
  /** Waiters ahead of this one. */
  ahead: number;
  limit: number;
}

/** Gives the slot back; calling it again does nothing. */
export type Release = () => void;

interface Waiter {
  start: () => void;
  onMove: () => void;
}

export class Semaphore {
  private running = 0;
  private readonly line: Waiter[] = [];
  private watchers: Array<() => void> = [];

  constructor(readonly limit: number) {}

  /** A slot now, or undefined when none is free (nobody waits in line for it). */
  tryAcquire(): Release | undefined {
    if (this.running >= this.limit || this.line.length > 0) return undefined;
    this.running++;
    return this.releaser();
  }

  /** Wait for a slot; `onWait` learns the place in line whenever it changes. Rejects (leaving the line) when `signal` aborts. */
  acquire(signal?: AbortSignal, onWait?: (wait: SlotWait) => void): Promise<Release> {
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', abort);
          this.running++;
          resolve(this.releaser());
        },
        onMove: () => onWait?.({ ahead: this.line.indexOf(waiter), limit: this.limit }),
      };
      const abort = () => {
        this.line.splice(this.line.indexOf(waiter), 1);
        this.moved();
        reject(signal?.reason);
      };
      if (signal?.aborted) return reject(signal.reason);
      signal?.addEventListener('abort', abort, { once: true });
      this.line.push(waiter);
      waiter.onMove();
    });
  }

  /** Resolves when a slot is free (without taking it), or when wakeWatchers() is called. */
  whenFree(): Promise<void> {
    if (this.running < this.limit && this.line.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push(resolve));
  }

  /** Let everyone in whenFree() go now (e.g. to see that the owner is stopping). */
  wakeWatchers(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const wake of watchers) wake();
  }

  /** Waiters in line now. */
  get waiting(): number {
    return this.line.length;
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.running--;
      const next = this.line.shift();
      if (next) next.start();
      this.moved();
      if (!next) this.wakeWatchers();
    };
  }

  private moved(): void {
    for (const waiter of this.line) waiter.onMove();
  }
}
