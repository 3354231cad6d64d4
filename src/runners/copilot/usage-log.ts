// Tokens as the run goes, from the conversation's event log. The CLI's JSON output carries no token counts
// (1.0.102: its `result` has premium requests and lines changed only); the event log in the session's state
// records one `session.usage_record` per model call: `{"type":"session.usage_record","data":{"usage":{"model",
// "inputTokens","outputTokens","cacheReadTokens","cacheWriteTokens","reasoningTokens","apiCallId"}}}`, with
// `inputTokens` counting the cached part too. Only what was appended after the run started is this task's.
import { zeroTokens, type Tokens } from '../../contract.js';
import { AppendedLines } from '../appended-lines.js';

interface Usage {
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  cacheReadTokens?: number;
  cacheWriteTokens?: number;
  reasoningTokens?: number;
}

export class UsageLog {
  // Earlier tasks of the conversation are in the log already: read from its end.
  private readonly lines: AppendedLines;
  private readonly calls: Usage[] = [];

  constructor(file: string) {
    this.lines = new AppendedLines(() => file, true);
  }

  /** Read what was appended since the last call; true when the totals changed. */
  poll(): boolean {
    let changed = false;
    for (const line of this.lines.read()) changed = this.onRecord(line) || changed;
    return changed;
  }

  private onRecord(line: string): boolean {
    if (!line.includes('"session.usage_record"')) return false;
    try {
      const usage = (JSON.parse(line) as { data?: { usage?: Usage } }).data?.usage;
      if (!usage) return false;
      this.calls.push(usage);
      return true;
    } catch {
      return false;
    }
  }

  /** The model of the last call (for its price). */
  model(): string | undefined {
    return this.calls.at(-1)?.model;
  }

  tokens(): Tokens {
    const sum = zeroTokens();
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0);
    for (const u of this.calls) {
      const cached = n(u.cacheReadTokens);
      sum.input += Math.max(0, n(u.inputTokens) - cached);
      sum.cache_read += cached;
      sum.cache_write += n(u.cacheWriteTokens);
      sum.output += n(u.outputTokens);
      sum.reasoning += n(u.reasoningTokens);
    }
    return sum;
  }
}
