// Codex's own record of a thread: CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<thread_id>.jsonl (0.169.0).
// Used for two things the JSONL on stdout does not give:
//   - whether a thread can be resumed on this worker (no rollout: `codex exec resume` fails with "no rollout
//     found for thread id", so we say not_found before starting it);
//   - the thread's running usage total before this run (event_msg/token_count info.total_token_usage), because
//     turn.completed.usage is the thread's RUNNING TOTAL, not the run's: the run's figures are the difference.
// It is no source of usage DURING a run: 0.169.0 writes a turn's token_count lines only when the turn ends (a
// run killed mid-turn leaves none), so usage is known at turn.completed and not before.
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export interface CodexUsage {
  input_tokens?: number;
  cached_input_tokens?: number;
  cache_write_input_tokens?: number;
  output_tokens?: number;
  reasoning_output_tokens?: number;
}

/** The rollout file of `threadId` under `codexHome`, or undefined. */
export function findRollout(codexHome: string, threadId: string): string | undefined {
  const suffix = `-${threadId}.jsonl`;
  const walk = (dir: string, depth: number): string | undefined => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return undefined;
    }
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isFile() && entry.name.startsWith('rollout-') && entry.name.endsWith(suffix)) return full;
      if (entry.isDirectory() && depth < 4) {
        const found = walk(full, depth + 1);
        if (found) return found;
      }
    }
    return undefined;
  };
  return walk(path.join(codexHome, 'sessions'), 0);
}

/** Reads a rollout (again from where it stopped, on each poll): the latest running usage total, and how many model responses it recorded. */
export class RolloutReader {
  total?: CodexUsage;
  responses = 0;
  private offset = 0;
  private partial = '';

  constructor(readonly file: string) {}

  /** Read what was appended since the last call; true when a new usage total arrived. */
  poll(): boolean {
    let fd: number;
    try {
      if (statSync(this.file).size <= this.offset) return false;
      fd = openSync(this.file, 'r');
    } catch {
      return false;
    }
    let changed = false;
    try {
      const buf = Buffer.alloc(256 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        if (n <= 0) break;
        this.offset += n;
        const lines = (this.partial + buf.subarray(0, n).toString('utf8')).split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) if (this.onLine(line)) changed = true;
      }
    } finally {
      closeSync(fd);
    }
    return changed;
  }

  private onLine(line: string): boolean {
    if (!line.includes('"token_count"')) return false; // cheap: most lines are conversation items
    try {
      const event = JSON.parse(line) as { type?: string; payload?: { type?: string; info?: { total_token_usage?: CodexUsage } | null } };
      const total = event.payload?.type === 'token_count' ? event.payload.info?.total_token_usage : undefined;
      if (!total) return false;
      this.total = total;
      this.responses++;
      return true;
    } catch {
      return false; // a line being written as we read is completed on the next poll (partial keeps it)
    }
  }
}
