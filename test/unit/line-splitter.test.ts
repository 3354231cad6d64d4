// The agent stream's line splitter: lines across chunks, a last line without newline, and a runaway line that
// is skipped instead of growing without bound.
import assert from 'node:assert/strict';
import { LineSplitter, MAX_LINE_CHARS } from '../../src/process/line-splitter.js';

describe('LineSplitter', () => {
  it('joins lines split across chunks, trims them, drops empty ones, keeps the last unterminated line', () => {
    const lines: string[] = [];
    const split = new LineSplitter((l) => lines.push(l));
    for (const chunk of ['{"a":', '1}\n\n  {"b":2}  \r\n{"c"', ':3}']) split.push(chunk);
    split.end();
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('skips a line longer than MAX_LINE_CHARS and goes on with the next one', () => {
    const lines: string[] = [];
    const split = new LineSplitter((l) => lines.push(l));
    split.push('before\n');
    const piece = 'x'.repeat(1024 * 1024);
    for (let i = 0; i <= MAX_LINE_CHARS / piece.length; i++) split.push(piece);
    split.push('still the long line\nafter\n');
    split.end();
    assert.deepEqual(lines, ['before', 'after']);
  });
});
