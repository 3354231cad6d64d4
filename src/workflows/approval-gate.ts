// The approval gate's rules, apart from the state machine that applies them (session.ts): what a gated push
// records while it waits, what the agent is told when a reviewer rejects with feedback, and what the refusal of
// other operations says. Pure and deterministic (workflow code).
import type { AwaitingApproval, DiffResult, GatedOperation, PrRequest, PushRequest, Review } from '../contract.js';
import { oneLine } from '../text.js';
import { failure } from './failures.js';

/** Without a setting from the worker (a session opened before the gate existed): a week. */
export const DEFAULT_APPROVAL_TIMEOUT_MS = 7 * 86_400_000;
/** Review decisions kept in the status. */
export const REVIEWS_KEPT = 50;

/** What waits: a push, or a pull request (with the push fields of its branch's remote). */
export interface GatedRequest {
  push: PushRequest;
  pr?: Omit<PrRequest, 'session_id'>;
}

export function awaitingRecord(
  operation: GatedOperation,
  { push: req, pr }: GatedRequest,
  branch: string | undefined,
  stat: DiffResult,
  round: number,
  requestedAt: string,
): AwaitingApproval {
  return {
    operation,
    requested_at: requestedAt,
    round,
    remote: req.remote,
    ...(branch ? { branch } : {}),
    set_upstream: req.set_upstream,
    ...(stat.head ? { commit_hash: stat.head } : {}),
    files_changed: stat.files_changed,
    insertions: stat.insertions,
    deletions: stat.deletions,
    ...(pr ? { pr } : {}),
  };
}

/** The request a waiting record stands for. */
export function requestOf(pending: AwaitingApproval): GatedRequest {
  return { push: { remote: pending.remote, branch: pending.branch, set_upstream: pending.set_upstream }, ...(pending.pr ? { pr: pending.pr } : {}) };
}

/** A pull request waits for the branch's remote: the one it would be pushed to. */
export const PR_REMOTE: PushRequest = { remote: 'origin', set_upstream: true };

/** The agent's task after a rejection: the reviewer's words, said to be a review of its work. */
export function fixInstruction(review: Review): string {
  return (
    `A reviewer${review.reviewer ? ` (${review.reviewer})` : ''} rejected the ${review.operation} of your changes and asks for this:\n\n${review.feedback}\n\n` +
    'Make the changes they ask for in the workspace. Do not commit or push: that is done for you.'
  );
}

/** The commit message of a fix. */
export function fixCommitMessage(review: Review): string {
  return `Address review: ${oneLine(review.feedback ?? '', 60)}`;
}

/** What an operation sent while the session waits for a decision is told. */
export function awaitingFailure(sessionId: string, pending: AwaitingApproval, operation: string) {
  return failure(
    `session ${sessionId} is awaiting approval of its ${pending.operation} (asked for at ${pending.requested_at}): ${operation} waits until a reviewer decides. ` +
      `Approve or reject first (station-coding approve|reject ${sessionId}, or the review update or signal), or coding_close.`,
    'conflict',
  );
}
