// The session workflow's message definitions, importable by clients without the workflow code.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import {
  QUERY_STATUS,
  SIGNAL_CANCEL,
  SIGNAL_REVIEW,
  UPDATES,
  type BranchInput,
  type BranchResult,
  type CancelInput,
  type CheckInput,
  type ChecksResult,
  type CloseInput,
  type CloseResult,
  type CodeInput,
  type CodeResult,
  type CommitInput,
  type CommitResult,
  type DiffInput,
  type DiffResult,
  type PrInput,
  type PrResult,
  type OpenInput,
  type OpenResult,
  type PushInput,
  type PushResult,
  type ReviewInput,
  type ReviewResult,
  type SessionStatus,
} from '../contract.js';

/** Waits until the session is open and returns the coding_open result (attach: a second caller gets attached: true). */
export const openUpdate = defineUpdate<OpenResult, [OpenInput]>(UPDATES.open);
export const codeUpdate = defineUpdate<CodeResult, [CodeInput]>(UPDATES.code);
export const branchUpdate = defineUpdate<BranchResult, [BranchInput]>(UPDATES.branch);
export const commitUpdate = defineUpdate<CommitResult, [CommitInput]>(UPDATES.commit);
export const pushUpdate = defineUpdate<PushResult, [PushInput]>(UPDATES.push);
export const diffUpdate = defineUpdate<DiffResult, [DiffInput]>(UPDATES.diff);
export const prUpdate = defineUpdate<PrResult, [PrInput]>(UPDATES.pr);
export const checkUpdate = defineUpdate<ChecksResult, [CheckInput]>(UPDATES.check);
export const reviewUpdate = defineUpdate<ReviewResult, [ReviewInput]>(UPDATES.review);
export const reviewSignal = defineSignal<[ReviewInput?]>(SIGNAL_REVIEW);
export const closeUpdate = defineUpdate<CloseResult, [CloseInput]>(UPDATES.close);
export const statusQuery = defineQuery<SessionStatus>(QUERY_STATUS);
export const cancelSignal = defineSignal<[CancelInput?]>(SIGNAL_CANCEL);

/** What a finished session workflow returns. */
export interface SessionEnd {
  close: CloseResult;
  status: SessionStatus;
}
