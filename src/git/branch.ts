// Create or switch a branch. A created branch is recorded in HEAD's reflog under the operation's key, so a retry of
// the same operation (whichever worker or path runs it) finds its own switch instead of failing with "exists".
import type { BranchRequest, BranchResult } from '../contract.js';
import type { OperationRef } from '../core/backend.js';
import { CodingError } from '../core/errors.js';
import type { GitProcess } from './git-process.js';
import { removeStaleLocks } from './locks.js';
import type { WorkspaceGit, WorkspaceRef } from './workspace-git.js';

/** How HEAD's reflog names the operation that created a branch (GIT_REFLOG_ACTION of the checkout). */
const BRANCH_REFLOG = 'station-coding operation';

export async function branch(ws: WorkspaceGit, ref: WorkspaceRef, req: BranchRequest, signal: AbortSignal, op?: OperationRef): Promise<BranchResult> {
  await ws.assertExists(ref);
  await removeStaleLocks(ref.workspace_path);
  const git = await ws.git(ref.workspace_path, signal);
  const previous = await ws.currentBranch(ref.workspace_path, signal);
  if (req.create) {
    // HEAD's reflog entry names the operation: a retry (whichever worker or path runs it) finds its own switch.
    const reflog = op ? { GIT_REFLOG_ACTION: `${BRANCH_REFLOG} ${op.key}: moving from ${previous ?? '(detached)'} to ${req.branch}` } : undefined;
    // Created straight away; why it failed is asked only when it did.
    const failed = await git.raw(['checkout', '-b', req.branch], reflog).then(
      () => undefined,
      (err: Error) => err,
    );
    if (!failed) return { success: true, branch: req.branch, created: true, previous_branch: previous };
    if (!(await ws.refExists(git, `refs/heads/${req.branch}`))) throw ws.failure(failed, ref, `create branch ${req.branch}`);
    const earlier = op && (await branchCreatedBy(git, op, req.branch, previous));
    if (earlier) return earlier;
    throw new CodingError(`branch '${req.branch}' already exists: switch to it with create: false`, 'conflict');
  }
  const exists = await ws.refExists(git, `refs/heads/${req.branch}`);
  if (!exists) {
    const remoteRef = (await git.raw(['for-each-ref', '--format=%(refname:short)', `refs/remotes/*/${req.branch}`])).trim().split('\n')[0];
    if (!remoteRef) throw new CodingError(`branch '${req.branch}' does not exist: create it with create: true`, 'not_found');
    await git.raw(['checkout', '-b', req.branch, '--track', remoteRef]).catch((err) => {
      throw ws.failure(err, ref, `switch to ${req.branch}`);
    });
    return { success: true, branch: req.branch, created: false, previous_branch: previous };
  }
  await git.raw(['checkout', req.branch, '--']).catch((err) => {
    throw ws.failure(err, ref, `switch to ${req.branch}`);
  });
  return { success: true, branch: req.branch, created: false, previous_branch: previous };
}

/**
 * The branch exists because this very operation created it (an earlier attempt that lost its result): it is
 * current, and HEAD's last move is the switch that attempt recorded under the operation's key.
 */
async function branchCreatedBy(git: GitProcess, op: OperationRef, branch: string, current: string | undefined): Promise<BranchResult | undefined> {
  if (current !== branch) return undefined;
  const headMove = (await git.raw(['reflog', '-1', '--format=%gs', 'HEAD']).catch(() => '')).trim();
  const prefix = `${BRANCH_REFLOG} ${op.key}: moving from `;
  if (!headMove.startsWith(prefix) || !headMove.endsWith(` to ${branch}`)) return undefined;
  const previous = headMove.slice(prefix.length, -` to ${branch}`.length);
  return { success: true, branch, created: true, previous_branch: previous === '(detached)' ? undefined : previous };
}
