// git's lock files left by a git that died: found in .git and removed when no process holds them open.
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileHeldOpen } from '../process/proc.js';

/**
 * Lock files a git left behind when it died (a worker killed mid-commit) would block every later commit with
 * "cannot lock ref 'HEAD'". Operations of a session run one at a time, so a lock no process holds open is stale.
 */
export async function removeStaleLocks(workspace: string): Promise<void> {
  const gitDir = join(workspace, '.git');
  const locks: string[] = [];
  const scan = async (dir: string, depth: number): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isFile() && entry.name.endsWith('.lock')) locks.push(path);
      else if (entry.isDirectory() && depth > 0 && (dir !== gitDir || entry.name === 'refs')) await scan(path, depth - 1);
    }
  };
  await scan(gitDir, 8);
  for (const lock of locks) if (!fileHeldOpen(lock)) await rm(lock, { force: true });
}
