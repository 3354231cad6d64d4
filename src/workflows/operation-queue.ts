// Operations of a session run one at a time, in the order they arrived. A `condition(() => !busy)` is not enough:
// Temporal resolves every condition that is true in one pass, so two waiting handlers would both start. A ticket
// per operation, served in order, lets exactly one through.

export class OperationQueue {
  private issued = 0;
  private serving = 0;
  private readonly abandoned = new Set<number>();

  /** A place in line, taken when the operation arrives. */
  take(): number {
    return this.issued++;
  }

  isTurn(ticket: number): boolean {
    return this.serving === ticket;
  }

  /** The holder of `ticket` is finished with it (served or given up while waiting). */
  release(ticket: number): void {
    if (ticket !== this.serving) {
      this.abandoned.add(ticket);
      return;
    }
    this.serving++;
    while (this.abandoned.delete(this.serving)) this.serving++;
  }

  /** No operation is running or waiting. */
  get idle(): boolean {
    return this.serving === this.issued;
  }
}
