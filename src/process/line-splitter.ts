// An agent's stdout as lines, with a cap: execa's own line iteration keeps an unfinished line in memory without
// bound, and a runaway line (a huge tool output) must not fill the worker's memory.

/** The longest stdout line kept: a runaway line (a huge tool output) is skipped instead of filling memory. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Splits a stream into trimmed, non-empty lines, holding at most MAX_LINE_CHARS of an unfinished line. */
export class LineSplitter {
  private pending = '';
  private skipping = false;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline >= 0; newline = chunk.indexOf('\n', start)) {
      const piece = chunk.slice(start, newline);
      if (!this.skipping) this.emit(this.pending + piece);
      this.pending = '';
      this.skipping = false;
      start = newline + 1;
    }
    if (this.skipping) return;
    this.pending += chunk.slice(start);
    if (this.pending.length > MAX_LINE_CHARS) {
      this.pending = '';
      this.skipping = true; // the rest of this line is dropped too
    }
  }

  end(): void {
    if (!this.skipping) this.emit(this.pending);
    this.pending = '';
  }

  private emit(line: string): void {
    const trimmed = line.trim();
    if (trimmed) this.onLine(trimmed);
  }
}
