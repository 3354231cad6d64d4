// What a session changed, for a reviewer (coding_diff): from where the session started (a ref written when it
// opened) or from a base the caller names, to HEAD or to the working tree (new files included, .gitignore
// respected, through the throwaway index of working-tree.ts, so the session's own index is untouched). Read-only:
// it may run while a task works in the workspace; `--no-optional-locks` keeps git from refreshing the index.
import { CodingError } from '../core/errors.js';
import type { DiffFile, DiffRequest, DiffResult } from '../contract.js';
import { parseNameStatus } from './name-status.js';
import { workingTreeId } from './working-tree.js';
import type { WorkspaceGit, WorkspaceRef } from './workspace-git.js';

/** git's id of the empty tree: the start of a repository that had no commit when the session opened. */
export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** Where the commit HEAD was at when `sessionId` opened is kept (one ref per session: a workspace may outlive one). */
export function sessionStartRef(sessionId: string): string {
  return `refs/station/start/${sessionId.replace(/[^A-Za-z0-9_-]/g, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
}

/** Remember where the session starts; a retried or re-attached open keeps the first mark. */
export async function markSessionStart(ws: WorkspaceGit, path: string, sessionId: string, signal: AbortSignal): Promise<void> {
  const git = await ws.git(path, signal);
  const head = (await git.raw(['rev-parse', '--verify', '-q', 'HEAD']).catch(() => '')).trim();
  if (!head) return; // no commit yet: the session starts from nothing (the empty tree)
  // The empty old value: only when the ref does not exist yet.
  await git.raw(['update-ref', sessionStartRef(sessionId), head, '']).catch(() => undefined);
}

export async function diff(ws: WorkspaceGit, ref: WorkspaceRef, req: DiffRequest, signal: AbortSignal): Promise<DiffResult> {
  const git = await ws.git(ref.workspace_path, signal);
  const run = (args: string[], env?: Record<string, string>) => git.raw(['--no-optional-locks', ...args], env);
  const head = (await run(['rev-parse', '--verify', '-q', 'HEAD']).catch(() => '')).trim() || undefined;
  const from = await startOf(run, ref.session_id, head, req.base);
  const to = req.uncommitted ? (await workingTreeId(async (args, env) => (await run(args, env)).trim())) : (head ?? EMPTY_TREE);
  const changes = ['-M', '--no-ext-diff', '--no-textconv', from, to];
  const [names, counts, patch] = await Promise.all([run(['diff', '--name-status', '-z', ...changes]), run(['diff', '--numstat', '-z', ...changes]), run(['diff', '--no-color', ...changes])]);
  const files = withCounts(parseNameStatus(names), counts);
  const cut = cutPatch(patch, req.max_bytes);
  return {
    base: from,
    ...(head ? { head } : {}),
    uncommitted: req.uncommitted,
    files,
    files_changed: files.length,
    insertions: files.reduce((n, f) => n + f.insertions, 0),
    deletions: files.reduce((n, f) => n + f.deletions, 0),
    patch: cut.text,
    truncated: cut.truncated,
    patch_bytes: Buffer.byteLength(patch),
  };
}

type Run = (args: string[]) => Promise<string>;

/** The commit the diff starts from: where `base` (or the session's start) and HEAD meet. */
async function startOf(run: Run, sessionId: string, head: string | undefined, base: string | undefined): Promise<string> {
  if (base !== undefined) {
    const commit = (await run(['rev-parse', '--verify', '-q', '--end-of-options', `${base}^{commit}`]).catch(() => '')).trim();
    if (!commit) throw new CodingError(`base: ${base} is not a branch, tag or commit in the workspace (remote branches are origin/<name>)`, 'invalid_input');
    return head ? await mergeBase(run, commit, head) : commit;
  }
  const start = (await run(['rev-parse', '--verify', '-q', sessionStartRef(sessionId)]).catch(() => '')).trim();
  if (start) return head ? await mergeBase(run, start, head) : start;
  // A session opened before its start was recorded: where HEAD left the remote's default branch, else everything.
  const upstream = (await run(['rev-parse', '--verify', '-q', 'refs/remotes/origin/HEAD']).catch(() => '')).trim();
  if (upstream && head) return mergeBase(run, upstream, head);
  return EMPTY_TREE;
}

/** Where two commits meet; the first when they share no history. */
async function mergeBase(run: Run, a: string, b: string): Promise<string> {
  return (await run(['merge-base', a, b]).catch(() => '')).trim() || a;
}

/** `git diff --numstat -z`: "added<TAB>deleted<TAB>path\0", or for a rename "added<TAB>deleted<TAB>\0old\0new\0"; "-" for binary. */
function withCounts(changes: ReturnType<typeof parseNameStatus>, numstat: string): DiffFile[] {
  const counts = new Map<string, { insertions: number; deletions: number; binary: boolean }>();
  const fields = numstat.split('\0');
  for (let i = 0; i < fields.length; i++) {
    const match = /^(-|\d+)\t(-|\d+)\t(.*)$/s.exec(fields[i]!);
    if (!match) continue;
    let path = match[3]!;
    if (path === '') {
      i += 2; // a rename: the old path, then the new one
      path = fields[i] ?? '';
    }
    const binary = match[1] === '-';
    counts.set(path, { insertions: binary ? 0 : Number(match[1]), deletions: binary ? 0 : Number(match[2]), binary });
  }
  return changes.map((change) => {
    const c = counts.get(change.path) ?? { insertions: 0, deletions: 0, binary: false };
    return { ...change, insertions: c.insertions, deletions: c.deletions, ...(c.binary ? { binary: true } : {}) };
  });
}

/** The patch cut to `max` bytes at a line end, with a last line saying how much was left out. */
export function cutPatch(patch: string, max: number): { text: string; truncated: boolean } {
  const bytes = Buffer.from(patch);
  if (bytes.length <= max) return { text: patch, truncated: false };
  let text = bytes.subarray(0, max).toString('utf8').replace(/\uFFFD$/, '');
  const lineEnd = text.lastIndexOf('\n');
  if (lineEnd > 0) text = text.slice(0, lineEnd + 1);
  const kept = Buffer.byteLength(text);
  return { text: `${text}[patch cut at ${kept} of ${bytes.length} bytes: ${bytes.length - kept} bytes left out (max_bytes)]\n`, truncated: true };
}
