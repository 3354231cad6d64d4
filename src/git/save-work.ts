// A cleanup never destroys work. Before a managed workspace is deleted, what exists nowhere else is saved under
// the state directory: a git bundle of every branch (commits on no remote included) plus, when the working tree
// has changes no commit holds, a commit of them (ref refs/station/uncommitted in the bundle) and the same as a
// plain patch. Restore with `git clone <bundle>` or `git fetch <bundle> 'refs/*:refs/saved/*'`, or `git apply`.
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { runHardenedGit } from './hardening.js';
import { workingTreeId } from './working-tree.js';

/** The worker's hardened git (hardening.ts): saving runs no hook, fsmonitor or driver the workspace configured. */
function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return runHardenedGit(cwd, args, env);
}

const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/**
 * Save the work in `workspace` that would be lost with it, into a new directory under `savedDir`. Returns that
 * directory, or undefined when everything is committed and every commit is on a remote (nothing to lose).
 */
export async function saveUnsavedWork(workspace: string, savedDir: string): Promise<string | undefined> {
  const head = await git(workspace, ['rev-parse', '--verify', '--quiet', 'HEAD']).catch(() => '');
  const tree = await workingTreeId((args, env) => git(workspace, args, env));
  const headTree = head ? await git(workspace, ['rev-parse', `${head}^{tree}`]) : EMPTY_TREE;
  const uncommitted = tree !== headTree;
  // Commits of HEAD (detached too) or any local branch that no remote-tracking ref contains (all, with no remote).
  const unpushed = head ? (await git(workspace, ['rev-list', '--max-count=1', 'HEAD', '--branches', '--not', '--remotes'])) !== '' : false;
  if (!uncommitted && !unpushed) return undefined;

  const target = join(savedDir, `${basename(workspace)}-${saveStamp(new Date())}`);
  // Bundle last, so a directory holding one is a complete save (savedWorkOf counts on it).
  await mkdir(target, { recursive: true });
  const refs = head ? ['HEAD', '--branches', '--tags'] : [];
  if (uncommitted) {
    const identity = { GIT_AUTHOR_NAME: 'station-coding', GIT_AUTHOR_EMAIL: 'station-coding@localhost', GIT_COMMITTER_NAME: 'station-coding', GIT_COMMITTER_EMAIL: 'station-coding@localhost' };
    const commit = await git(workspace, ['commit-tree', tree, ...(head ? ['-p', head] : []), '-m', 'Uncommitted changes saved before the workspace was deleted'], identity);
    await git(workspace, ['update-ref', 'refs/station/uncommitted', commit]);
    refs.push('refs/station/uncommitted');
    await writeFile(join(target, 'uncommitted.patch'), await git(workspace, ['diff', '--binary', head || EMPTY_TREE, tree]) + '\n');
  }
  await git(workspace, ['bundle', 'create', '--quiet', join(target, 'workspace.bundle'), ...refs]);
  return target;
}

/**
 * The newest complete save of `workspace` under `savedDir` made since `sinceMs`: what a retried delete answers when
 * its first attempt saved and deleted, then died before it could say where (the workspace is gone, its save is
 * not). An older save belongs to an earlier session that had the same id, not to this delete.
 */
export async function savedWorkOf(workspace: string, savedDir: string, sinceMs: number): Promise<string | undefined> {
  const prefix = `${basename(workspace)}-`;
  const saves = (await readdir(savedDir).catch(() => [] as string[]))
    .filter((entry) => entry.startsWith(prefix) && savedAt(entry.slice(prefix.length)) >= sinceMs - CLOCK_SLACK_MS)
    .sort()
    .reverse();
  for (const save of saves) {
    if (await stat(join(savedDir, save, 'workspace.bundle')).catch(() => undefined)) return join(savedDir, save);
  }
  return undefined;
}

/** The server's clock (when the close was scheduled) and the worker's (the save's name) may differ a little. */
const CLOCK_SLACK_MS = 5_000;

/** The time in a save's name: an ISO time with ':' and '.' as '-' (a file name on every system). */
function saveStamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

/** The time saveStamp wrote, or NaN when `stamp` is not one. */
function savedAt(stamp: string): number {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z$/.exec(stamp);
  return match ? Date.parse(`${match[1]}T${match[2]}:${match[3]}:${match[4]}.${match[5]}Z`) : NaN;
}
