// The working tree's content as a git tree id (tracked and untracked files, .gitignore respected), read through
// a throwaway copy of the index: the session's own index (what is staged) is never touched, and the cached file
// stats in the copy mean only changed files are hashed again. Used for the before/after snapshots of a code
// task, the failover checkpoint and the save of unsaved work.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs one git command in the workspace with extra environment, resolving to its trimmed output. */
export type GitRunner = (args: string[], env?: Record<string, string>) => Promise<string>;

export async function workingTreeId(git: GitRunner): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'station-index-'));
  const index = { GIT_INDEX_FILE: join(dir, 'index') };
  try {
    const gitDir = await git(['rev-parse', '--absolute-git-dir']);
    await cp(join(gitDir, 'index'), index.GIT_INDEX_FILE).catch(() => undefined); // no index yet: start empty
    await git(['add', '--all', '--', '.'], index);
    return await git(['write-tree'], index);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
