// Tokens as the run goes, from the CLI's conversation file. The stream-json output reports tokens only in its final
// `result` (0.61.0), so a budget could not stop a running task and a cancelled task would have spent nothing. The
// conversation file (JSONL, appended as the run goes) records every model response with its usage:
// `{"id", "timestamp", "type":"gemini", "tokens":{"input","output","cached","thoughts","tool","total"}}` (a response
// is written again under the same id as it is updated; `input` includes `cached`).
import { zeroTokens, type Tokens } from '../../contract.js';
import { AppendedLines } from '../appended-lines.js';

interface ChatTokens {
  input?: number;
  output?: number;
  cached?: number;
  thoughts?: number;
}

export class ChatUsage {
  private readonly lines: AppendedLines;
  private readonly byResponse = new Map<string, ChatTokens>();

  /** `since`: ISO time of the run's start; responses of earlier runs of the conversation are not this task's. */
  constructor(
    file: () => string | undefined,
    private readonly since: string,
  ) {
    this.lines = new AppendedLines(file);
  }

  /** Read what was appended since the last call; true when the totals changed. */
  poll(): boolean {
    let changed = false;
    for (const line of this.lines.read()) changed = this.onRecord(line) || changed;
    return changed;
  }

  private onRecord(line: string): boolean {
    if (!line.includes('"tokens"')) return false;
    let record: { id?: unknown; type?: unknown; timestamp?: unknown; tokens?: ChatTokens };
    try {
      record = JSON.parse(line);
    } catch {
      return false;
    }
    if (record?.type !== 'gemini' || typeof record.id !== 'string' || !record.tokens) return false;
    if (typeof record.timestamp === 'string' && record.timestamp < this.since) return false;
    this.byResponse.set(record.id, record.tokens);
    return true;
  }

  tokens(): Tokens {
    const sum = zeroTokens();
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0);
    for (const t of this.byResponse.values()) {
      const cached = n(t.cached);
      sum.input += Math.max(0, n(t.input) - cached);
      sum.cache_read += cached;
      sum.output += n(t.output);
      sum.reasoning += n(t.thoughts);
    }
    return sum;
  }
}
