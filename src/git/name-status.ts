// `git diff --name-status -z` (and diff-tree) as the contract's file changes: what a task changed, what a diff shows.
import type { FileChange } from '../contract.js';

export function parseNameStatus(out: string): FileChange[] {
  const fields = out.split('\0').filter((f) => f.length > 0);
  const changes: FileChange[] = [];
  for (let i = 0; i < fields.length; ) {
    const code = fields[i++]!;
    const letter = code[0];
    if (letter === 'R') {
      const oldPath = fields[i++]!;
      changes.push({ path: fields[i++]!, status: 'renamed', old_path: oldPath });
    } else if (letter === 'C') {
      i++; // copied: the source is unchanged
      changes.push({ path: fields[i++]!, status: 'added' });
    } else {
      const status = letter === 'A' ? 'added' : letter === 'D' ? 'deleted' : 'modified';
      changes.push({ path: fields[i++]!, status });
    }
  }
  return changes;
}
