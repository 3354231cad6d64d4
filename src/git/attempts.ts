// Best-of-N on disk: each attempt of a task works in its own copy of the session's workspace, and the winner's
// changes come back as if one task had made them. A copy is a new repository whose objects are hard links to the
// session's (no disk for history; copies when on another filesystem; a shallow history stays shallow) holding the
// session's working tree as it is now (uncommitted changes included; what .gitignore or info/exclude hide is
// neither copied nor counted): HEAD detached at the session's commit, the session's changes unstaged, no remote
// (nothing leads back into the session's repository). Every step is safe to run twice: prepare keeps copies it
// finished (a retried attempt goes on in its copy), measure only reads, settle saves first, then writes the
// chosen tree's files over the session's, which a retry cut short by a kill finishes.
import { copyFile, link, mkdir, mkdtemp, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { AttemptStat, PreparedAttempts, SettledAttempts } from '../core/backend.js';
import { CodingError } from '../core/errors.js';
import { hardenedGitForNewRepository } from './hardening.js';
import { workingTreeId } from './working-tree.js';
import type { WorkspaceGit, WorkspaceRef } from './workspace-git.js';

/** Written last by prepare (through a rename): the copies below it are complete, from this base. */
const PREPARED = 'prepared.json';

const patchName = (n: number) => `attempt-${n}.patch`;

/** The working tree of `path` as a git tree id, through its own git. */
async function treeOf(ws: WorkspaceGit, path: string, signal: AbortSignal): Promise<string> {
  const git = await ws.git(path, signal);
  return workingTreeId(async (args, env) => (await git.raw(args, env)).trim());
}

/** `dir`: this task's directory of copies (under the workspace base, beside the clone cache; unique to the task). */
export async function prepareAttempts(ws: WorkspaceGit, ref: WorkspaceRef, dir: string, count: number, signal: AbortSignal): Promise<PreparedAttempts> {
  const done = await readFile(join(dir, PREPARED), 'utf8').catch(() => undefined);
  if (done) {
    const prepared = JSON.parse(done) as PreparedAttempts;
    if (prepared.workspaces.length === count) return prepared;
  }
  await rm(dir, { recursive: true, force: true }); // what an attempt of prepare cut short left
  await mkdir(dir, { recursive: true });
  const source = await ws.git(ref.workspace_path, signal);
  const base = await treeOf(ws, ref.workspace_path, signal);
  const head = (await source.raw(['rev-parse', '--verify', '-q', 'HEAD']).catch(() => '')).trim();
  const common = (await source.raw(['rev-parse', '--path-format=absolute', '--git-common-dir'])).trim();
  const format = (await source.raw(['rev-parse', '--show-object-format'])).trim();
  // Side by side: each copy is a few git processes and links, mostly waiting on the disk.
  const workspaces = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const copy = join(dir, `attempt-${i + 1}`);
      await hardenedGitForNewRepository(dir, signal, ws.settings.git_timeout_sec).raw(['init', '--quiet', `--object-format=${format}`, copy]);
      // The session's objects, the base tree's too (written by the snapshot above), and what makes them whole.
      await rm(join(copy, '.git', 'objects'), { recursive: true, force: true });
      await linkTree(join(common, 'objects'), join(copy, '.git', 'objects'));
      for (const file of ['shallow', join('info', 'exclude')]) {
        await copyFile(join(common, file), join(copy, '.git', file)).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      }
      const git = await ws.git(copy, signal);
      await git.raw(['read-tree', '-u', '--reset', base]);
      if (head) {
        await git.raw(['update-ref', '--no-deref', 'HEAD', head]);
        await git.raw(['reset', '--quiet']); // the index back to HEAD: the session's changes are unstaged, as they are there
      }
      return copy;
    }),
  );
  const prepared: PreparedAttempts = { dir, base, workspaces };
  await writeFile(join(dir, `${PREPARED}.new`), JSON.stringify(prepared));
  await rename(join(dir, `${PREPARED}.new`), join(dir, PREPARED));
  return prepared;
}

/** What each attempt changed from the base: its tree, the line counts, and its patch written beside the copies. */
export async function measureAttempts(ws: WorkspaceGit, prepared: PreparedAttempts, signal: AbortSignal): Promise<AttemptStat[]> {
  return Promise.all(
    prepared.workspaces.map(async (copy, i): Promise<AttemptStat> => {
      const tree = await treeOf(ws, copy, signal);
      const git = await ws.git(copy, signal);
      const range = ['--no-ext-diff', '--no-textconv', prepared.base, tree];
      const numstat = (await git.raw(['diff', '--numstat', '-z', ...range])).split('\0').filter(Boolean);
      const counts = numstat.filter((entry) => /^(\d+|-)\t(\d+|-)\t/.test(entry));
      // A binary file counts as one line added: it is a change, and git gives no lines for it.
      const count = (column: 0 | 1) => counts.reduce((sum, entry) => sum + (Number(entry.split('\t')[column]) || (column === 0 && entry.startsWith('-\t') ? 1 : 0)), 0);
      // Written by git itself: the patch is bytes (a file in any encoding, a binary file), never decoded as text.
      await git.raw(['diff', '--binary', '--full-index', `--output=${join(prepared.dir, patchName(i + 1))}`, ...range]);
      return { n: i + 1, tree, files: counts.length, insertions: count(0), deletions: count(1) };
    }),
  );
}

/**
 * Save every attempt's patch under `savedDir`, make the session's workspace hold the chosen attempt's changes
 * (none: a cancelled task), and remove the copies.
 */
export async function settleAttempts(
  ws: WorkspaceGit,
  ref: WorkspaceRef,
  prepared: PreparedAttempts,
  chosen: AttemptStat | undefined,
  savedDir: string,
  signal: AbortSignal,
): Promise<SettledAttempts> {
  const saved_to = join(savedDir, `${basename(ref.workspace_path)}-${basename(prepared.dir)}`);
  // Saved first: whatever happens next, no attempt's work is lost.
  if (await exists(prepared.dir)) {
    await mkdir(saved_to, { recursive: true });
    for (let n = 1; n <= prepared.workspaces.length; n++) {
      await copyFile(join(prepared.dir, patchName(n)), join(saved_to, patchName(n))).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // not measured (the task stopped before): nothing to save
      });
    }
  }
  try {
    if (chosen) await applyAttempt(ws, ref, prepared.base, chosen, join(saved_to, patchName(chosen.n)), saved_to, signal);
  } finally {
    await rm(prepared.dir, { recursive: true, force: true });
  }
  return { saved_to, ...(chosen ? { applied: chosen.n } : {}) };
}

/**
 * Make the session's working tree hold `chosen`'s tree: its patch applied to the base in a scratch index (so the
 * chosen tree's objects are in the session's repository), then the files that differ written from it or removed.
 * Only the files the attempt changed may differ: anything else means the workspace changed while the attempts ran,
 * and nothing is overwritten. A run cut short (a killed worker) left some of those files written: the retry writes
 * the rest. The session's own index is never touched.
 */
async function applyAttempt(ws: WorkspaceGit, ref: WorkspaceRef, base: string, chosen: AttemptStat, patch: string, savedTo: string, signal: AbortSignal): Promise<void> {
  const scratch = await mkdtemp(join(tmpdir(), 'station-apply-'));
  const index = { GIT_INDEX_FILE: join(scratch, 'index') };
  try {
    const git = await ws.git(ref.workspace_path, signal);
    await git.raw(['read-tree', base], index);
    if (chosen.tree !== base) await git.raw(['apply', '--cached', '--binary', patch], index);
    const target = (await git.raw(['write-tree'], index)).trim();
    if (target !== chosen.tree) throw new CodingError(`attempt ${chosen.n}'s patch does not reproduce its changes (${target} is not ${chosen.tree}); it is saved in ${savedTo}`, 'conflict');
    const now = await treeOf(ws, ref.workspace_path, signal);
    if (now === target) return;
    const touched = new Set(await namesBetween(git, base, target));
    const differ = await git.raw(['diff-tree', '-r', '--no-renames', '--name-status', '-z', now, target]);
    const changes = pairs(differ);
    const foreign = changes.filter(([, path]) => !touched.has(path)).map(([, path]) => path);
    if (foreign.length > 0) {
      throw new CodingError(
        `the workspace ${ref.workspace_path} changed while the attempts ran (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''}): attempt ${chosen.n}'s changes were not applied; they are in ${savedTo}`,
        'conflict',
      );
    }
    for (const [status, path] of changes) if (status === 'D') await unlink(join(ref.workspace_path, path)).catch(() => undefined);
    const write = changes.filter(([status]) => status !== 'D').map(([, path]) => path);
    for (let i = 0; i < write.length; i += 200) await git.raw(['checkout-index', '--force', '--', ...write.slice(i, i + 200)], index);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function namesBetween(git: Awaited<ReturnType<WorkspaceGit['git']>>, from: string, to: string): Promise<string[]> {
  if (from === to) return [];
  return (await git.raw(['diff-tree', '-r', '--no-renames', '--name-only', '-z', from, to])).split('\0').filter(Boolean);
}

/** `diff-tree --name-status -z` output as [status, path] pairs. */
function pairs(out: string): Array<[string, string]> {
  const fields = out.split('\0').filter(Boolean);
  const result: Array<[string, string]> = [];
  for (let i = 0; i + 1 < fields.length; i += 2) result.push([fields[i]!, fields[i + 1]!]);
  return result;
}

/** Hard-link every file of `from` into `to` (made as needed); a copy where links cannot go (another filesystem). */
async function linkTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map(async (entry) => {
      const [source, target] = [join(from, entry.name), join(to, entry.name)];
      if (entry.isDirectory()) return linkTree(source, target);
      await link(source, target).catch(async (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return;
        if (err.code !== 'EXDEV' && err.code !== 'EPERM') throw err;
        await copyFile(source, target);
      });
    }),
  );
}

const exists = (path: string) => stat(path).then(
  () => true,
  () => false,
);
