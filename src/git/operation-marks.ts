// Which operations already ran in a workspace: one empty file per operation key in .git/station/operations.
// A retried commit (its worker died after committing, or the workflow task that ran it as a local activity was
// lost, which starts the attempts over at 1) must look for its own commit first, even if the working tree changed
// since; a first attempt must not pay a git process for that look. Creating the mark tells the two apart.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Mark operation `key` as started in `workspace`: 'first' the first time, 'seen' when an attempt ran before. */
export async function markOperation(workspace: string, key: string): Promise<'first' | 'seen'> {
  const dir = join(workspace, '.git', 'station', 'operations');
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, key), '', { flag: 'wx' });
    return 'first';
  } catch {
    // Marked before (EEXIST), or no place for marks (a linked worktree's .git is a file): look, to be safe.
    return 'seen';
  }
}
