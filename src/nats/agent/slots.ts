// The agent's task slots (coding.nats.agent.concurrency): a session's operations wait for a slot, new
// sessions are pulled only while one is free, so they go to agents with room.

/** Task slots: acquire() waits its turn (session operations), whenFree() only looks (new sessions). */
export class Slots {
  private free: number;
  private readonly acquirers: Array<() => void> = [];
  private watchers: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  tryAcquire(): boolean {
    if (this.free <= 0) return false;
    this.free--;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.acquirers.push(resolve));
  }

  release(): void {
    const next = this.acquirers.shift();
    if (next) return next();
    this.free++;
    this.wakeWatchers();
  }

  whenFree(): Promise<void> {
    if (this.free > 0) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push(resolve));
  }

  wakeWatchers(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const w of watchers) w();
  }
}
