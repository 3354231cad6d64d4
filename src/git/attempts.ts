// Best-of-N on disk: each attempt of a task works in its own copy of the session's workspace, and the winner's
// changes come back as if one task had made them. A copy is a local clone whose objects are hard links (no disk
// for history) holding the session's working tree as it is now (uncommitted changes included, .gitignore
// respected): HEAD detached at the session's commit, the session's changes unstaged, no remote (nothing leads
// back into the session's repository). Every step is safe to run twice: prepare keeps copies it finished (a
// retried attempt goes on in its copy), measure only reads, settle applies the winner only onto the state the
// attempts started from and recognises it already applied.
import { copyFile, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AttemptStat, PreparedAttempts, SettledAttempts } from '../core/backend.js';
import { CodingError } from '../core/errors.js';
import { hardenedGitForNewRepository } from './hardening.js';
import { workingTreeId } from './working-tree.js';
import type { WorkspaceGit, WorkspaceRef } from './workspace-git.js';

/** Written last by prepare: the copies below it are complete, from this base. */
const PREPARED = 'prepared.json';

const patchName = (n: number) => `attempt-${n}.patch`;

/** The working tree of `path` as a git tree id, through its own git. */
async function treeOf(ws: WorkspaceGit, path: string, signal: AbortSignal): Promise<string> {
  const git = await ws.git(path, signal);
  return workingTreeId(async (args, env) => (await git.raw(args, env)).trim());
}

/** `dir`: this task's directory of copies (under the workspace base, beside the clone cache). */
export async function prepareAttempts(ws: WorkspaceGit, ref: WorkspaceRef, dir: string, count: number, signal: AbortSignal): Promise<PreparedAttempts> {
  const done = await readFile(join(dir, PREPARED), 'utf8').catch(() => undefined);
  if (done) return JSON.parse(done) as PreparedAttempts;
  await rm(dir, { recursive: true, force: true }); // what an attempt of prepare cut short left
  await mkdir(dir, { recursive: true });
  const base = await treeOf(ws, ref.workspace_path, signal);
  const head = (await (await ws.git(ref.workspace_path, signal)).raw(['rev-parse', '--verify', '-q', 'HEAD']).catch(() => '')).trim();
  // Side by side: each copy is a few git processes, mostly waiting on the disk.
  const workspaces = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const copy = join(dir, `attempt-${i + 1}`);
      // The objects, the base tree's too (written by the snapshot above), are hard links: no disk for history.
      await hardenedGitForNewRepository(dir, signal, ws.settings.clone_timeout_sec).raw(['clone', '--quiet', '--local', '--no-checkout', ref.workspace_path, copy]);
      const git = await ws.git(copy, signal);
      await git.raw(['read-tree', '-u', '--reset', base]);
      if (head) {
        await git.raw(['update-ref', '--no-deref', 'HEAD', head]);
        await git.raw(['reset', '--quiet']); // the index back to HEAD: the session's changes are unstaged, as they are there
      }
      await git.raw(['remote', 'remove', 'origin']);
      return copy;
    }),
  );
  const prepared: PreparedAttempts = { dir, base, workspaces };
  await writeFile(join(dir, PREPARED), JSON.stringify(prepared));
  return prepared;
}

/** What each attempt changed from the base: its tree, the line counts, and its patch written beside the copies. */
export async function measureAttempts(ws: WorkspaceGit, prepared: PreparedAttempts, signal: AbortSignal): Promise<AttemptStat[]> {
  return Promise.all(
    prepared.workspaces.map(async (copy, i): Promise<AttemptStat> => {
      const tree = await treeOf(ws, copy, signal);
      const git = await ws.git(copy, signal);
      const range = ['--no-ext-diff', '--no-textconv', prepared.base, tree];
      const numstat = (await git.raw(['diff', '--numstat', ...range])).trim();
      const lines = numstat ? numstat.split('\n') : [];
      // A binary file counts as one line added: it is a change, and git gives no lines for it.
      const binary = lines.filter((line) => line.startsWith('-\t')).length;
      const count = (column: 0 | 1) => lines.reduce((sum, line) => sum + (Number(line.split('\t')[column]) || 0), 0);
      await writeFile(join(prepared.dir, patchName(i + 1)), await git.raw(['diff', '--binary', '--full-index', ...range]));
      return { n: i + 1, tree, files: lines.length, insertions: count(0) + binary, deletions: count(1) };
    }),
  );
}

/**
 * Apply the chosen attempt's patch to the session's workspace (none: a cancelled task), save every attempt's
 * patch under `savedDir`, and remove the copies.
 */
export async function settleAttempts(
  ws: WorkspaceGit,
  ref: WorkspaceRef,
  prepared: PreparedAttempts,
  chosen: AttemptStat | undefined,
  savedDir: string,
  signal: AbortSignal,
): Promise<SettledAttempts> {
  const saved_to = join(savedDir, `${basename(ref.workspace_path)}-${basename(prepared.dir)}-${prepared.base.slice(0, 10)}`);
  const copiesLeft = (await readdir(prepared.dir).catch(() => undefined)) !== undefined;
  // Saved first: whatever happens next, no attempt's work is lost.
  if (copiesLeft) {
    await mkdir(saved_to, { recursive: true });
    for (let n = 1; n <= prepared.workspaces.length; n++) {
      await copyFile(join(prepared.dir, patchName(n)), join(saved_to, patchName(n))).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err; // not measured (the task stopped before): nothing to save
      });
    }
  }
  if (chosen) {
    const now = await treeOf(ws, ref.workspace_path, signal);
    if (now === prepared.base && chosen.tree !== prepared.base) {
      await (await ws.git(ref.workspace_path, signal)).raw(['apply', '--binary', '--whitespace=nowarn', join(saved_to, patchName(chosen.n))]);
    } else if (now !== chosen.tree) {
      throw new CodingError(
        `the workspace ${ref.workspace_path} changed while the attempts ran (it is neither as they started nor as attempt ${chosen.n} left it): attempt ${chosen.n}'s changes were not applied; they are in ${saved_to}`,
        'conflict',
      );
    }
  }
  await rm(prepared.dir, { recursive: true, force: true });
  return { saved_to, applied: chosen?.n };
}
