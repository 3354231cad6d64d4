// One coding session = one workflow, whose id is the session id. This file wires the messages to the Session
// (session.ts) and runs the main loop: open, then wait for close, the idle timeout or a long history. The
// workflow owns its contract: it parses its own input and every update with the contract's zod schemas, so any
// Temporal client (the CLI, Python, Go) gets the same rules and typed failures as ours.
import {
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  currentUpdateInfo,
  isCancellation,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { BranchInput, CancelInput, CheckInput, CloseInput, CodeInput, CommitInput, DiffInput, OpenInput, PrInput, PushInput, ReviewInput, type OpenRequest } from '../contract.js';
import { branchUpdate, cancelSignal, checkUpdate, closeUpdate, codeUpdate, commitUpdate, diffUpdate, openUpdate, prUpdate, pushUpdate, reviewSignal, reviewUpdate, statusQuery, type SessionEnd } from './definitions.js';
import { awaitingFailure, DEFAULT_APPROVAL_TIMEOUT_MS } from './approval-gate.js';
import { failure, parseInput } from './failures.js';
import { attemptsRefusal } from './best-of.js';
import { Session, type SessionSnapshot } from './session.js';
import type { z } from 'zod';

export interface SessionRunOptions {
  /** State handed over by continue-as-new. */
  carried?: SessionSnapshot;
  /** Continue as new once history has this many events (default 2000; the server also suggests it). */
  history_event_limit?: number;
}

export async function codingSession(input: OpenInput, options: SessionRunOptions = {}): Promise<SessionEnd> {
  const id = workflowInfo().workflowId;
  const { start, invalid } = parseStart(input, id, options.carried);
  const session = new Session(id, start, options.carried);
  wireHandlers(session);

  if (invalid) {
    // Nothing was opened: the caller learns why from the workflow's failure (and from any update it sent).
    session.failOpen(invalid);
    await condition(allHandlersFinished);
    throw invalid;
  }

  try {
    if (!options.carried) {
      session.publish();
      await Promise.all([session.enableSearchAttributes(), session.open()]);
      if (session.openFailure) {
        await condition(allHandlersFinished);
        throw session.openFailure;
      }
    } else {
      session.publish(); // a new run starts with what the last one published
    }
    await mainLoop(session, options);
  } catch (err) {
    if (!isCancellation(err) || !session.opened || session.closed) throw err;
    // Cancelled from outside (`temporal workflow cancel`, the UI): close the session and apply its cleanup policy.
    await CancellationScope.nonCancellable(() => session.close(false, 'cancelled'));
    throw err;
  }
  await condition(allHandlersFinished);
  return { close: session.closeResult!, status: session.view() };
}

/** Wait for close; close an idle agent-scope session; continue as new before history grows large. */
async function mainLoop(session: Session, options: SessionRunOptions): Promise<void> {
  const historyLimit = options.history_event_limit ?? 2000;
  const historyTooLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= historyLimit;
  const idleTimeoutMs = session.start.scope === 'agent' ? session.opened!.idle_timeout_ms : undefined;
  // A gated operation starting to wait wakes the loop too: its own timeout replaces the idle timeout.
  const wake = () => session.closed || session.awaitingApproval || (historyTooLong() && session.idle);
  while (!session.closed) {
    const approvalDeadline = session.approvalDeadline();
    if (approvalDeadline !== undefined) {
      // Waiting for a review decision, for days if need be; the idle timeout does not run meanwhile.
      const hours = Math.round((session.opened!.approval_timeout_ms ?? DEFAULT_APPROVAL_TIMEOUT_MS) / 3_600_000);
      const woken = await condition(() => session.closed || !session.awaitingApproval || (historyTooLong() && session.idle), Math.max(1, approvalDeadline - Date.now()), {
        summary: `approval timeout (${hours} h)`,
      });
      if (!woken && session.awaitingApproval && !session.closed) {
        await session.close(false, 'approval_timeout');
        break;
      }
    } else if (idleTimeoutMs === undefined) {
      await condition(wake);
    } else {
      // One timer per idle period, not one per operation: it runs to the deadline counted from the last operation.
      const left = session.lastActive + idleTimeoutMs - Date.now();
      const woken = left > 0 && (await condition(wake, left, { summary: `idle timeout (${Math.round(idleTimeoutMs / 60_000)} min)` }));
      if (!woken && !session.closed && !session.awaitingApproval && session.idle && Date.now() >= session.lastActive + idleTimeoutMs) {
        await session.close(false, 'idle_timeout');
        break;
      }
      if (!woken && !session.idle) await condition(() => session.closed || session.idle);
    }
    if (!session.closed && historyTooLong() && session.idle) {
      await condition(allHandlersFinished);
      if (!session.closed) await continueAsNew<typeof codingSession>(session.start, { ...options, carried: session.snapshot() });
    }
  }
}

/** The start input, parsed here whoever started the session; an invalid one fails the workflow at once. */
function parseStart(input: unknown, id: string, carried?: SessionSnapshot): { start: OpenRequest; invalid?: ReturnType<typeof failure> } {
  if (carried) return { start: carried.start };
  try {
    const start = parseInput(OpenInput, input ?? {}, 'start input');
    if (start.session_id !== undefined && start.session_id !== id) {
      throw failure(`invalid start input: session_id: ${start.session_id} differs from the workflow id ${id} (the workflow id is the session id; leave session_id out)`, 'invalid_input');
    }
    return { start };
  } catch (err) {
    return { start: { scope: 'agent' }, invalid: err as ReturnType<typeof failure> };
  }
}

function wireHandlers(session: Session): void {
  /** An operation's payload checked: the session accepts operations, the fields are right, the id is ours. */
  const accept = <S extends z.ZodType>(schema: S, what: string, input: unknown): z.output<S> => {
    session.assertAccepting();
    const req = parseInput(schema, input ?? {}, `${what} input`);
    const id = (req as { session_id?: string }).session_id;
    if (id !== undefined && id !== session.id) {
      throw failure(`invalid ${what} input: session_id: ${id} does not match this session (${session.id})`, 'invalid_input');
    }
    return req;
  };
  const validator =
    <S extends z.ZodType>(schema: S, what: string) =>
    (input: unknown) =>
      void accept(schema, what, input);
  /** An operation that changes the workspace or the remote: refused while the session waits for a review decision. */
  const changing =
    <S extends z.ZodType>(schema: S, what: string) =>
    (input: unknown) => {
      accept(schema, what, input);
      if (session.status.awaiting_approval) throw awaitingFailure(session.id, session.status.awaiting_approval, what);
    };
  const request = <S extends z.ZodType>(schema: S, input: unknown) => {
    const { session_id: _, ...req } = parseInput(schema, input ?? {}, 'input') as z.output<S> & { session_id?: string };
    return req as Omit<z.output<S>, 'session_id'>;
  };

  setHandler(statusQuery, () => session.view(), { description: 'The session: state, branch, workspace, running and queued tasks, task history, totals, last error.' });

  setHandler(
    cancelSignal,
    (input) => {
      // A signal cannot be refused: a malformed one cancels nothing and is logged.
      const parsed = CancelInput.safeParse(input ?? {});
      if (parsed.success) session.cancel(parsed.data);
      else log.warn('cancel signal ignored: invalid input', { input });
    },
    { description: 'Cancel a code task: {task} or {update_id} names one; without them, the running task, else the oldest queued one.' },
  );

  setHandler(openUpdate, () => session.openResult(), {
    description: 'coding_open: waits until the session is open and returns its workspace (attached: true for a later caller).',
    validator: (input) => {
      const req = accept(OpenInput, 'coding_open', input);
      const running = session.view().repo_url ?? session.start.repo_url;
      if (req.repo_url && running && req.repo_url !== running) {
        throw failure(`scope_id ${session.start.scope_id ?? session.id} is already open on ${running}, not ${req.repo_url}`, 'conflict');
      }
    },
  });

  setHandler(codeUpdate, (input) => session.code(request(CodeInput, input), currentUpdateInfo()?.id), {
    description: 'code: run a coding task in the workspace; returns summary, files changed and trace.',
    validator: (input) => {
      changing(CodeInput, 'code')(input);
      const refusal = attemptsRefusal(request(CodeInput, input), session.view().backend);
      if (refusal) throw failure(refusal, 'invalid_input');
      const exhausted = session.opened ? session.budgetExhausted() : undefined;
      if (exhausted) throw failure(exhausted, 'budget_exhausted');
    },
  });
  setHandler(branchUpdate, (input) => session.branch(request(BranchInput, input), currentUpdateInfo()?.id), {
    description: 'coding_branch: create or switch to a branch.',
    validator: changing(BranchInput, 'coding_branch'),
  });
  setHandler(commitUpdate, (input) => session.commit(request(CommitInput, input), currentUpdateInfo()?.id), {
    description: 'coding_commit: stage and commit the workspace changes.',
    validator: changing(CommitInput, 'coding_commit'),
  });
  setHandler(pushUpdate, (input) => session.push(request(PushInput, input)), {
    description: 'coding_push: push the branch to the remote.',
    validator: changing(PushInput, 'coding_push'),
  });
  setHandler(checkUpdate, (input) => session.check(request(CheckInput, input)), {
    description: 'coding_check: run the session\'s checks (or the ones named) in the workspace now; {passed, checks}.',
    validator: changing(CheckInput, 'coding_check'),
  });
  setHandler(reviewUpdate, (input) => session.review(request(ReviewInput, input)), {
    description: 'A review decision on the operation awaiting approval: {decision: approve|reject, feedback?, reviewer?}. Returns what it caused (the push; or the fix task and its commit).',
    validator: (input) => {
      accept(ReviewInput, 'review', input);
      if (!session.status.awaiting_approval || session.reviewInProgress) {
        throw failure(`session ${session.id} has nothing awaiting approval (state ${session.status.state}${session.reviewInProgress ? ', a review is being carried out' : ''})`, 'conflict');
      }
    },
  });
  setHandler(
    reviewSignal,
    async (input) => {
      // A signal cannot be refused: one that is malformed or comes when nothing waits is logged and changes nothing.
      const parsed = ReviewInput.safeParse(input ?? {});
      if (!parsed.success || !session.status.awaiting_approval || session.reviewInProgress) {
        log.warn('review signal ignored', { input, reason: parsed.success ? 'nothing awaits approval' : parsed.error.message });
        return;
      }
      await session.review(parsed.data).catch((err: unknown) => log.warn('review signal failed', { error: String(err) }));
    },
    { description: 'The review decision as a signal (the Temporal UI\'s "send signal"): {decision: approve|reject, feedback?, reviewer?}.' },
  );
  setHandler(diffUpdate, (input) => session.diff(request(DiffInput, input)), {
    description: 'coding_diff: what the session changed (stat and patch), from its start or a given base; read-only.',
    validator: validator(DiffInput, 'coding_diff'),
  });
  setHandler(prUpdate, (input) => session.pr(request(PrInput, input)), {
    description: 'coding_pr: open the pull request of the session’s branch, or update the open one (never a second).',
    validator: validator(PrInput, 'coding_pr'),
  });
  setHandler(closeUpdate, (input) => session.closeBy(request(CloseInput, input).success), {
    description: 'coding_close: end the session and apply its cleanup policy.',
    validator: validator(CloseInput, 'coding_close'),
  });
}
