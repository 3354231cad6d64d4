// Commit, with a trailer naming the operation: a retry of the same operation (its result lost with a dead worker)
// finds its commit on HEAD and answers with it, instead of committing twice or failing with "nothing to commit".
import type { CommitRequest, CommitResult } from '../contract.js';
import type { OperationRef } from '../core/backend.js';
import { CodingError } from '../core/errors.js';
import type { GitProcess } from './git-process.js';
import { removeStaleLocks } from './locks.js';
import { markOperation } from './operation-marks.js';
import type { WorkspaceGit, WorkspaceRef } from './workspace-git.js';

/** The commit trailer naming the operation that made a commit, so that a retry of it finds it. */
export const OPERATION_TRAILER = 'Station-Operation';

export async function commit(ws: WorkspaceGit, ref: WorkspaceRef, req: CommitRequest, signal: AbortSignal, op?: OperationRef): Promise<CommitResult> {
  await ws.assertExists(ref);
  await removeStaleLocks(ref.workspace_path);
  const git = await ws.authorGit(ref.workspace_path, signal);
  // An attempt of this operation ran here before (its result lost): if its commit is on HEAD, that is the answer,
  // even if the working tree changed since. The mark is a file, so a first attempt runs no extra git.
  if (op && (await markOperation(ref.workspace_path, op.key)) === 'seen') {
    if ((await operationOnHead(git)) === op.key) return commitResult(ws, git, ref, signal);
  }
  if (req.add_all) {
    await git.raw(['add', '--all']).catch((err) => {
      throw ws.failure(err, ref, 'stage changes');
    });
  }
  // The trailer as its own paragraph, not `--trailer`: that would run any trailer.*.cmd the repository sets.
  const trailer = op ? ['-m', `${OPERATION_TRAILER}: ${op.key}`] : [];
  // Committed straight away (each git process costs milliseconds); why it failed is asked only when it did. The
  // summary git prints names the full hash (core.abbrev=no) and the stats, so no second git is needed for them.
  const tryCommit = (abbrev: string[]) =>
    git.raw([...abbrev, 'commit', '-m', req.message, ...trailer]).then(
      (summary) => summary,
      (err: Error) => err,
    );
  let committed = await tryCommit(['-c', 'core.abbrev=no']);
  // git before 2.31 knows no core.abbrev=no: commit without it, then ask for the hash.
  if (committed instanceof Error && /bad numeric config value/.test(committed.message)) committed = await tryCommit([]);
  if (typeof committed === 'string') return committedFrom(ws, committed, git, ref, signal);
  const failed = committed;
  const staged = (await git.raw(['diff', '--cached', '--name-only']).catch(() => 'unknown')).trim();
  if (staged) throw ws.failure(failed, ref, 'commit');
  // Nothing to commit because an earlier attempt of this operation committed it (and lost its result)?
  if (op && (await operationOnHead(git)) === op.key) return commitResult(ws, git, ref, signal);
  throw new CodingError(
    req.add_all ? 'nothing to commit: the workspace has no changes' : 'nothing to commit: no staged changes (use add_all: true to stage every change)',
    'conflict',
  );
}

/** The result from the summary of `git commit` ("[main <hash>] subject", then " 1 file changed, ..."). */
async function committedFrom(ws: WorkspaceGit, summary: string, git: GitProcess, ref: WorkspaceRef, signal: AbortSignal): Promise<CommitResult> {
  const branch = await ws.currentBranch(ref.workspace_path, signal);
  const [first = '', ...rest] = summary.split('\n');
  // The line starts with the branch git committed on (a branch name may hold "]" and hex: matched as a prefix).
  const head = `[${branch ?? 'detached HEAD'} `;
  const hash = first.startsWith(head) ? /^(?:\(root-commit\) )?([0-9a-f]{40}|[0-9a-f]{64})\] /.exec(first.slice(head.length))?.[1] : undefined;
  if (!hash) return commitResult(ws, git, ref, signal);
  const stat = rest.find((line) => /^\s*\d+ files? changed/.test(line)) ?? '';
  return { success: true, commit_hash: hash, branch, ...parseShortstat(stat) };
}

async function commitResult(ws: WorkspaceGit, git: GitProcess, ref: WorkspaceRef, signal: AbortSignal): Promise<CommitResult> {
  const [shown, branch] = await Promise.all([git.raw(['show', '--shortstat', '--format=%H', 'HEAD']), ws.currentBranch(ref.workspace_path, signal)]);
  const [hash = '', ...stat] = shown.trim().split('\n');
  return { success: true, commit_hash: hash.trim(), branch, ...parseShortstat(stat.join('\n')) };
}


/** The operation key in HEAD's trailer ('' when none). */
async function operationOnHead(git: GitProcess): Promise<string> {
return (await git.raw(['log', '-1', `--format=%(trailers:key=${OPERATION_TRAILER},valueonly)`]).catch(() => '')).trim();
}

export function parseShortstat(text: string): { files_changed: number; insertions: number; deletions: number } {
const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
return {
  files_changed: num(/(\d+) files? changed/),
  insertions: num(/(\d+) insertions?\(\+\)/),
  deletions: num(/(\d+) deletions?\(-\)/),
};
}
