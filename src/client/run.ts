// `station-coding run`: the main job in one command. Open a session, branch if asked, run the task, commit
// what changed, push if asked, close, and report. The session is closed on every path, failures included.
import type { LocalBackend, BranchResult, CloseResult, CodeResult, CommitResult, OpenInput, OpenResult, ProgressEvent, PushResult } from '../contract.js';
import type { CodingClient, TaskLive } from './client.js';
import { bringBranchBack, isLocalRepository, type BroughtBack } from './bring-back.js';

export interface RunRequest {
  open: OpenInput;
  instruction: string;
  context?: string;
  files?: string[];
  checks?: boolean;
  fix_rounds?: number;
  attempts?: number;
  backends?: LocalBackend[];
  new_branch?: string;
  commit_message?: string;
  push: boolean;
}

export interface RunReport {
  session: OpenResult;
  branch?: BranchResult;
  code?: CodeResult;
  commit?: CommitResult;
  /** Why no commit was made, when none was. */
  commit_skipped?: string;
  push?: PushResult;
  /** Without push, on a repository on this machine: where the committed branch was fetched into it. */
  brought_back?: BroughtBack;
  close?: CloseResult;
  error?: string;
}

export interface RunHooks {
  onStep?: (line: string) => void;
  onProgress?: (event: ProgressEvent) => void;
  /** The task's spending so far and any wait for a task slot, each time its heartbeat is read. */
  onLive?: (live: TaskLive) => void;
  /** The code task starts, and has ended (a live view draws its status line in between). */
  onTask?: (phase: 'start' | 'end') => void;
  /** Called once the session exists, with a function that cancels its running task (for Ctrl-C). */
  onSession?: (cancel: () => Promise<void>) => void;
}

export async function runTask(client: CodingClient, req: RunRequest, hooks: RunHooks = {}): Promise<RunReport> {
  const step = hooks.onStep ?? (() => {});
  const session = await client.open(req.open);
  const session_id = session.session_id;
  hooks.onSession?.(() => client.cancel(session_id));
  step(`session ${session_id} opened (${session.backend}, workspace ${session.workspace_path})`);
  const report: RunReport = { session };
  let awaiting = false;
  try {
    if (req.new_branch) {
      report.branch = await client.branch({ session_id, branch: req.new_branch, create: true });
      step(`created branch ${report.branch.branch}`);
    }
    hooks.onTask?.('start');
    try {
      report.code = await client.code(
        { session_id, instruction: req.instruction, context: req.context, files: req.files, checks: req.checks, fix_rounds: req.fix_rounds, attempts: req.attempts, backends: req.backends },
        hooks.onProgress,
        hooks.onLive,
      );
    } finally {
      hooks.onTask?.('end');
    }
    if (!report.code.success) {
      report.error = report.code.error ?? 'the task failed';
      report.commit_skipped = 'the task did not succeed';
    } else if (report.code.files_changed.length === 0) {
      report.commit_skipped = 'the task changed no files';
    } else {
      report.commit = await client.commit({ session_id, message: req.commit_message ?? commitMessage(req.instruction), add_all: true });
      step(`committed ${report.commit.commit_hash.slice(0, 10)}`);
      if (req.push) {
        report.push = await client.push({ session_id, remote: 'origin', set_upstream: true });
        // A session opened with require_approval: the push waits for a reviewer, so the session stays open for it.
        if (report.push.awaiting_approval) {
          step(`the push of ${report.push.branch} awaits approval: station-coding approve ${session_id} (or reject --feedback "...")`);
          awaiting = true;
          return report;
        }
        step(`pushed ${report.push.branch} to ${report.push.remote}`);
      } else if (isLocalRepository(req.open.repo_url) && session.workspace_path && report.commit.branch) {
        // The clone is deleted on close: the commit would be lost with it.
        report.brought_back = await bringBranchBack(req.open.repo_url, session.workspace_path, report.commit.branch, session_id);
        step(`fetched ${report.commit.branch} into ${report.brought_back.repository} as ${report.brought_back.branch}`);
      }
    }
  } catch (err) {
    report.error = (err as Error).message;
  } finally {
    if (!awaiting) {
      report.close = await client.close({ session_id, success: report.error === undefined }).catch((err: Error) => {
        report.error ??= err.message;
        return undefined;
      });
    }
  }
  return report;
}

/** First line of the instruction, as a commit subject. */
export function commitMessage(instruction: string): string {
  const line = instruction.trim().split('\n')[0]!.trim();
  return line.length > 72 ? `${line.slice(0, 69)}...` : line;
}
