// Reading what an agent CLI appends to a log file of its own (its conversation, its usage records) while it runs:
// each call returns the complete lines written since the last one. A file that shrank was rewritten: by default it
// is read again from its start (for readers that key what they keep, so nothing counts twice); a reader that only
// wants what comes after its start reads on from the new end instead.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';

export class AppendedLines {
  private offset: number;
  private partial = '';

  /** `fromEnd`: skip what the file holds now (earlier runs' lines), and after a rewrite what it holds then. */
  constructor(
    private readonly file: () => string | undefined,
    private readonly fromEnd = false,
  ) {
    const path = fromEnd ? file() : undefined;
    try {
      this.offset = path ? statSync(path).size : 0;
    } catch {
      this.offset = 0;
    }
  }

  read(): string[] {
    const file = this.file();
    if (!file) return [];
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      return [];
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = this.fromEnd ? size : 0;
        this.partial = '';
      }
      if (size === this.offset) return [];
      const buffer = Buffer.alloc(size - this.offset);
      const n = readSync(fd, buffer, 0, buffer.length, this.offset);
      this.offset += n;
      const lines = (this.partial + buffer.subarray(0, n).toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      return lines;
    } finally {
      closeSync(fd);
    }
  }
}
