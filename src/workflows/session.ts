// The state of one coding session and its operations, kept apart from the handler wiring in coding-session.ts
// (the safe-message-handlers shape of Temporal's samples). Deterministic only: every effect is an activity on the
// worker that holds the workspace, and the clock is the workflow's. Where operations run is placement.ts, what is
// recorded task-records.ts, what is published publish.ts; the rules are pure files beside it (fix-loop.ts,
// best-of.ts, approval-gate.ts, budget.ts). What stays here is one state machine (the operation line, the task
// line, opening, checks, attempts, the review gate, closing) whose operations share its state.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  patched,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities, OpenedSession } from '../activities/index.js';
import {
  addTokens,
  CodeInput,
  CommitInput,
  zeroTokens,
  type Budget,
  type BranchRequest,
  type BranchResult,
  type CancelInput,
  type CheckRequest,
  type CheckResult,
  type ChecksResult,
  type CloseResult,
  type CodeRequest,
  type CodeResult,
  type CommitRequest,
  type CommitResult,
  type DiffRequest,
  type DiffResult,
  type PrRequest,
  type PrResult,
  type AttemptProgress,
  type AwaitingApproval,
  type GatedOperation,
  type OpenRequest,
  type OpenResult,
  type PushRequest,
  type PushResult,
  type ReviewRequest,
  type ReviewResult,
  type SessionStatus,
  type TaskCheckpoint,
  type TaskRef,
} from '../contract.js';
import { oneLine } from '../text.js';
import { Publisher } from './publish.js';
import { failedResult, taskRecord } from './task-records.js';
import { OperationQueue } from './operation-queue.js';
import { budgetExhausted, remainingBudget } from './budget.js';
import { allPassed, checksFixInstruction, mergeRounds, spentTogether, withChecks, type FixLoop } from './fix-loop.js';
import { attemptBudget, bestOfResult, chooseAttempt, plannedAttempts, spentByAll, type FinishedAttempt, type PlannedAttempt } from './best-of.js';
import type { SessionRef } from '../core/backend.js';
import { failure, operationFailure, parseInput, spentBy } from './failures.js';
import { DEFAULT_APPROVAL_TIMEOUT_MS, PR_REMOTE, REVIEWS_KEPT, awaitingFailure, awaitingRecord, fixCommitMessage, fixInstruction, requestOf, type GatedRequest } from './approval-gate.js';
import { workerOf } from './failover.js';
import { HEARTBEAT_TIMEOUT, Placement } from './placement.js';

/** What a session hands to its next run when it continues as new. */
/** The session's own state; the running and queued tasks are derived from the task line (see view()). */
export type SessionRecord = Omit<SessionStatus, 'running_task' | 'queued_tasks'>;

export interface SessionSnapshot {
  start: OpenRequest;
  opened: OpenedSession;
  status: SessionRecord;
  opens: number;
  search_attributes: boolean;
  next_task: number;
}

const TASKS_KEPT = 50;
const TASK_TIMEOUT_GRACE_MS = 2 * 60_000;

interface QueuedTask extends TaskRef {
  cancelled: boolean;
  scope?: CancellationScope;
}

export class Session {
  readonly status: SessionRecord;
  opened?: OpenedSession;
  closeResult?: CloseResult;
  /** Why the session could not open (set once, then the workflow fails with it). */
  openFailure?: ApplicationFailure;
  opens: number;
  searchAttributes: boolean;
  /** Workflow time of the last operation's end: what the idle timeout counts from. */
  lastActive = Date.now();
  private nextTask: number;
  /** Where its operations run (the workspace's worker, a failover). */
  private readonly place = new Placement(
    () => this.opened!,
    (restored, from) => {
      if (restored.branch) this.status.branch = restored.branch;
      this.status.failovers = [...(this.status.failovers ?? []), { from, to: workerOf(restored), at: new Date(Date.now()).toISOString() }];
      this.publish();
    },
  );
  private readonly queue = new OperationQueue();
  private reviewing = false;
  private readonly tasks: QueuedTask[] = [];
  private readonly publisher = new Publisher();

  constructor(
    readonly id: string,
    readonly start: OpenRequest,
    carried?: SessionSnapshot,
  ) {
    this.opened = carried?.opened;
    this.opens = carried?.opens ?? 0;
    this.searchAttributes = carried?.search_attributes ?? false;
    this.nextTask = carried?.next_task ?? 1;
    this.status = carried?.status ?? {
      session_id: id,
      title: start.title,
      backend: start.backend,
      repo_url: start.repo_url,
      branch: start.branch,
      workspace_path: start.workspace_path,
      scope: start.scope,
      scope_id: start.scope_id,
      state: 'opening',
      tasks_run: 0,
      tokens: zeroTokens(),
      cost: 0,
      tasks: [],
    };
  }

  snapshot(): SessionSnapshot {
    // The record carried on holds the workspace's facts too, as a run of an older version reads them from it.
    const { running_task: _, queued_tasks: __, ...status } = this.view();
    return {
      start: this.start,
      opened: this.opened!,
      status,
      opens: this.opens,
      search_attributes: this.searchAttributes,
      next_task: this.nextTask,
    };
  }

  get closed(): boolean {
    return this.closeResult !== undefined;
  }

  /** No operation is running or waiting for its turn. */
  get idle(): boolean {
    return this.queue.idle;
  }

  // ---- opening ----

  async open(): Promise<void> {
    const activities = proxyActivities<Activities>({
      startToCloseTimeout: '2 hours',
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
      summary: `open: ${this.start.repo_url ?? this.start.workspace_path ?? 'empty workspace'}`,
    });
    try {
      this.opened = await activities.openSession({ ...this.start, session_id: this.id });
    } catch (err) {
      if (isCancellation(err)) throw err;
      this.failOpen(failure(operationFailure(err).message, 'open_failed'));
      return;
    }
    // The workspace's facts (backend, path, repository, conversation) are the session reference's: view() shows them.
    Object.assign(this.status, {
      state: 'open',
      ...(this.opened.agent_backend ? { agent_backend: this.opened.agent_backend } : {}),
      branch: this.opened.branch ?? this.status.branch,
    });
    this.publish();
  }

  failOpen(reason: ApplicationFailure): void {
    this.openFailure = reason;
    this.status.state = 'failed';
    this.status.last_error = reason.message;
    this.publish();
  }

  /** The search attributes exist on the cluster (the worker registers them where allowed). */
  async enableSearchAttributes(): Promise<void> {
    const activities = proxyActivities<Activities>({
      startToCloseTimeout: '30 seconds',
      retry: { maximumAttempts: 5, initialInterval: '1 second' },
      summary: 'register search attributes',
    });
    this.searchAttributes = await activities.registerSearchAttributes().catch(() => false);
    this.publish();
  }

  /** The coding_open result, once the session is open (a later caller is attached). */
  async openResult(): Promise<OpenResult> {
    this.opens++;
    await condition(() => this.status.state !== 'opening');
    if (this.openFailure) throw this.openFailure;
    if (!this.opened) throw failure(`session ${this.id} is ${this.status.state}`, 'session_closed');
    return {
      session_id: this.id,
      workspace_path: this.opened.session.workspace_path,
      repo_cloned: this.opened.repo_cloned,
      managed: this.opened.session.managed,
      attached: this.opens > 1,
      backend: this.opened.session.backend,
      ...(this.opened.agent_backend ? { agent_backend: this.opened.agent_backend } : {}),
      ...(this.status.branch ? { branch: this.status.branch } : {}),
    };
  }

  /** Refusals an update validator can make before anything reaches history. */
  assertAccepting(): void {
    if (this.openFailure) throw this.openFailure;
    if (this.status.state === 'closing' || this.status.state === 'closed') throw failure(`session ${this.id} is ${this.status.state}`, 'session_closed');
  }

  // ---- operations ----

  /**
   * Run `fn` as the session's only operation: wait until the session is open and every earlier operation is
   * done, in arrival order. `giveUp` lets a queued operation leave the line (a cancelled task).
   */
  async exclusive<T>(name: string, fn: () => Promise<T>, giveUp: () => boolean = () => false): Promise<T | undefined> {
    const ticket = this.queue.take();
    let holding = false;
    try {
      await condition(() => giveUp() || (this.status.state !== 'opening' && this.queue.isTurn(ticket)));
      if (giveUp()) return undefined;
      this.assertAccepting();
      // While a push awaits a decision only close runs, and the operations of a review under way (its fix).
      const waiting = this.status.state === 'awaiting_approval';
      if (this.status.awaiting_approval && name !== 'close' && !this.reviewing) throw awaitingFailure(this.id, this.status.awaiting_approval, name);
      if (this.status.state !== 'open' && !(waiting && (name === 'close' || this.reviewing))) throw failure(`session ${this.id} is ${this.status.state}`, 'session_closed');
      holding = true;
      this.status.busy = name;
      this.publish();
      const result = await fn();
      this.place.lost = false;
      return result;
    } finally {
      this.queue.release(ticket);
      if (holding) {
        this.status.busy = undefined;
        this.lastActive = Date.now();
        this.publish();
      }
    }
  }

  async code(req: CodeRequest, updateId: string | undefined): Promise<CodeResult> {
    const task: QueuedTask = { task: this.nextTask++, update_id: updateId, instruction: oneLine(req.instruction, 120), cancelled: false };
    this.tasks.push(task);
    this.publish();
    try {
      const result = await this.exclusive('code', () => this.runTask(task, req), () => task.cancelled);
      return result ?? this.cancelledBeforeStart(task);
    } finally {
      this.tasks.splice(this.tasks.indexOf(task), 1);
      this.publish();
    }
  }

  private async runTask(task: QueuedTask, req: CodeRequest): Promise<CodeResult> {
    if (task.cancelled) return this.cancelledBeforeStart(task);
    const exhausted = this.budgetExhausted();
    if (exhausted) throw failure(exhausted, 'budget_exhausted');
    // Built per attempt: after a failover the task goes to the new worker's queue.
    const activity = () =>
      this.place.activities(`code: ${oneLine(req.instruction, 80)}`, {
        // The backend stops the task at task_timeout itself and reports it; this is only the backstop.
        startToCloseTimeout: this.opened!.task_timeout_ms + TASK_TIMEOUT_GRACE_MS,
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
    task.scope = new CancellationScope();
    this.publish();
    const round = async (request: CodeRequest, budget: Budget | undefined): Promise<CodeResult> => {
      const { backend_session_id, ...rest } = await this.place.run(() => activity().runCode(this.opened!.session, request, this.status.title, budget));
      if (backend_session_id) this.opened!.session.backend_session_id = backend_session_id;
      return rest;
    };
    // The rounds so far (the task, then its fix rounds): what a failure in a later round still spent.
    let done: CodeResult | undefined;
    let result: CodeResult;
    const planned = this.plannedAttempts(req);
    try {
      result = await task.scope.run(async () => {
        if (planned) return this.bestOf(task, req, planned, (r) => (done = r));
        done = await round(req, this.remainingBudget());
        if (!this.wantsChecks(req)) return done;
        return this.checkAndFix(req, done, round, { checks: () => this.runChecks(), progress: (r) => (done = r) });
      });
    } catch (err) {
      if (!isCancellation(err)) {
        const reason = this.place.failureOf(err, 'code task');
        this.record(task, this.failedTask(reason.message, undefined, spentTogether(done, spentBy(err))));
        throw reason;
      }
      result = this.failedTask('cancelled', undefined, spentTogether(done, spentBy(err)));
    } finally {
      task.scope = undefined;
    }
    this.record(task, result);
    return result;
  }

  /** The task asked for checks (or fix rounds), or the session runs them after every task. */
  private wantsChecks(req: CodeRequest): boolean {
    const wanted = (req.fix_rounds ?? 0) > 0 || (req.checks ?? this.start.run_checks ?? false);
    return wanted && patched('checks');
  }

  /** Run the checks; while one fails and fix rounds are left, its output is the agent's next round. */
  private async checkAndFix(
    req: CodeRequest,
    first: CodeResult,
    round: (request: CodeRequest, budget: Budget | undefined) => Promise<CodeResult>,
    how: FixLoop,
  ): Promise<CodeResult> {
    let result = first;
    let checks = await how.checks();
    let rounds = 0;
    let stop: string | undefined;
    // An attempt of a best-of-N task has its share of the budget, counted from nothing; a task, the session's.
    const [budget, before] = how.budget ? [how.budget, { cost: 0, tokens: zeroTokens() }] : [this.opened?.budget, this.status];
    while (result.success && !allPassed(checks) && rounds < (req.fix_rounds ?? 0)) {
      const spent = { cost: before.cost + result.trace.cost, tokens: addTokens(before.tokens, result.trace.tokens) };
      const exhausted = budgetExhausted(budget, spent);
      if (exhausted) {
        stop = `no fix round: ${exhausted}`;
        break;
      }
      how.fixing?.(rounds + 1);
      const next = await round(parseInput(CodeInput, { instruction: checksFixInstruction(checks) }, 'fix round'), remainingBudget(budget, spent));
      result = mergeRounds(result, next);
      how.progress?.(result);
      rounds++;
      if (!next.success) break;
      checks = await how.checks();
    }
    return withChecks(result, checks, rounds, stop);
  }

  // ---- best-of-N (best-of.ts has its rules, git/attempts.ts the copies) ----

  /** The attempts the task asks for, or undefined for an ordinary task. */
  private plannedAttempts(req: CodeRequest): PlannedAttempt[] | undefined {
    const planned = plannedAttempts(req, this.opened!.session.backend);
    return planned && patched('best-of-n') ? planned : undefined;
  }

  /**
   * Run the attempts side by side, each in its own copy of the workspace (its own durable activities: a killed
   * worker's attempt goes on in its copy and conversation), choose one by the stated rule, apply its changes,
   * save every attempt's changes. Cancelled: every attempt stops, nothing is applied, all is saved.
   */
  private async bestOf(task: TaskRef, req: CodeRequest, planned: PlannedAttempt[], progress: (spent: CodeResult) => void): Promise<CodeResult> {
    const session = this.opened!.session;
    const host = (summary: string, extra: Partial<ActivityOptions> = {}) => this.place.activities(summary, extra);
    // Not cancellable: a cancel that comes now finds the copies made, and stops the attempts as they start.
    const prepared = await CancellationScope.nonCancellable(() =>
      this.place.run(() => host(`attempts: ${planned.length} copies of the workspace`).prepareAttempts(session, task.task, planned.length)),
    ).catch((err) => this.fail(err, 'attempts'));
    this.status.running_attempts = planned.map((p) => ({ n: p.n, backend: p.backend, state: 'coding' }));
    this.publish();
    try {
      const share = attemptBudget(this.remainingBudget(), planned.length);
      const ran = await Promise.all(planned.map((p) => this.attempt(task, req, p, prepared.workspaces[p.n - 1]!, share)));
      const cancelled = ran.some((r) => r.cancelled);
      // What the attempts spent counts even if what follows fails.
      progress(spentByAll(ran.map((r) => r.result)));
      // What follows runs even when the task was cancelled: the copies are measured, saved and removed.
      return await CancellationScope.nonCancellable(async () => {
        // The copies are on the worker that made them: a lost worker fails the task (the next operation moves the session).
        const stats = await host('attempts: measure their changes')
          .measureAttempts(session, prepared)
          .catch((err) => this.fail(err, 'attempts'));
        const finished: FinishedAttempt[] = planned.map((p, i) => ({ planned: p, result: ran[i]!.result, agent_finished: ran[i]!.agent_finished, stat: stats[i]! }));
        const chosen = cancelled ? undefined : chooseAttempt(finished);
        const summary = chosen ? `attempts: apply attempt ${chosen.planned.n}, save all` : 'attempts: save all (cancelled)';
        const settled = await host(summary)
          .settleAttempts(session, prepared, chosen?.stat)
          .catch((err) => this.fail(err, 'attempts'));
        return bestOfResult(finished, chosen?.planned.n, settled.saved_to);
      });
    } finally {
      this.status.running_attempts = undefined;
    }
  }

  /** One attempt: a task (with its checks and fix rounds) in its copy, as a session of its own with a new conversation. */
  private async attempt(
    task: TaskRef,
    req: CodeRequest,
    p: PlannedAttempt,
    workspace: string,
    budget: Budget | undefined,
  ): Promise<{ result: CodeResult; agent_finished: boolean; cancelled?: boolean }> {
    const ref: SessionRef = { ...this.opened!.session, session_id: `${this.id}~task-${task.task}-attempt-${p.n}`, backend: p.backend, workspace_path: workspace, managed: false, backend_session_id: undefined, attempt: p.n };
    const progress = this.status.running_attempts!.find((a) => a.n === p.n)!;
    const mark = (state: AttemptProgress['state'], checks?: CheckResult[]) => {
      Object.assign(progress, { state, ...(checks ? { checks: { passed: checks.filter((c) => c.passed).length, failed: checks.filter((c) => !c.passed).length } } : {}) });
      this.publish();
    };
    // The agent's last round ended well (whatever the checks said after it): what the choice ranks second.
    let agentFinished = false;
    const round = async (request: CodeRequest, left: Budget | undefined): Promise<CodeResult> => {
      const options = { startToCloseTimeout: this.opened!.task_timeout_ms + TASK_TIMEOUT_GRACE_MS, cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
      const { backend_session_id, ...rest } = await this.place.activities(`attempt ${p.n} (${p.backend}): ${oneLine(request.instruction, 70)}`, options).runCode(ref, request, this.status.title, left);
      if (backend_session_id) ref.backend_session_id = backend_session_id;
      agentFinished = rest.success;
      return rest;
    };
    const checks = async () => {
      mark('checking');
      const options = { startToCloseTimeout: '6 hours', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
      const results = await this.place.activities(`attempt ${p.n}: checks`, options).runChecks(ref, this.start.checks);
      mark('checking', results);
      return results;
    };
    let done: CodeResult | undefined;
    try {
      done = await round(req, budget);
      let result = done;
      if (this.wantsChecks(req)) result = await this.checkAndFix(req, done, round, { checks, budget: budget ?? {}, fixing: () => mark('fixing'), progress: (r) => (done = r) });
      mark(result.success ? 'done' : 'failed');
      return { result, agent_finished: agentFinished };
    } catch (err) {
      // What the rounds before spent counts, cancelled or not.
      const spent = spentTogether(done, spentBy(err));
      mark('failed');
      if (isCancellation(err)) return { result: this.failedTask('cancelled', undefined, spent), agent_finished: false, cancelled: true };
      return { result: this.failedTask(this.place.failureOf(err, `attempt ${p.n}`).message, undefined, spent), agent_finished: false };
    }
  }

  /** The session's checks (or the ones named) in its workspace; what they said is kept in the status. */
  private async runChecks(names?: string[]): Promise<CheckResult[]> {
    const summary = `checks${names?.length ? `: ${names.join(', ')}` : ''}`;
    const options = { startToCloseTimeout: '6 hours', cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };
    const checks = await this.place.run(() => this.place.activities(summary, options).runChecks(this.opened!.session, this.start.checks, names));
    this.status.last_checks = checks;
    this.publish();
    return checks;
  }

  /** coding_check: the checks now, on their own. */
  async check(req: CheckRequest): Promise<ChecksResult> {
    return (await this.exclusive('check', async () => {
      const checks = await this.runChecks(req.names).catch((err) => this.fail(err, 'check'));
      if (checks.length === 0) throw failure('no checks to run: configure coding.checks on the worker, or give checks in coding_open', 'invalid_input');
      return { passed: allPassed(checks), checks };
    }))!;
  }

  private cancelledBeforeStart(task: TaskRef): CodeResult {
    const result = this.failedTask('cancelled', 'The task was cancelled before it started.');
    this.record(task, result);
    return result;
  }

  /** The cancel signal: the named task, else the one running, else the oldest queued; never a later one. */
  cancel(input: CancelInput): void {
    const named = input.task !== undefined || input.update_id !== undefined;
    const target = named
      ? this.tasks.find((t) => (input.task === undefined || t.task === input.task) && (input.update_id === undefined || t.update_id === input.update_id))
      : (this.tasks.find((t) => t.scope) ?? this.tasks[0]);
    if (!target) return;
    target.cancelled = true;
    target.scope?.cancel();
  }

  async branch(req: BranchRequest, operation: string | undefined): Promise<BranchResult> {
    return (await this.exclusive('branch', async () => {
      const summary = `branch: ${req.create ? 'create ' : ''}${req.branch}`;
      const result = await this.place.quick(
        summary,
        (local, queue, op) => local.createBranchHere(queue, this.opened!.session, req, op),
        () => this.place.activities(summary).createBranch(this.opened!.session, req, operation),
        operation,
      ).catch((err) => this.fail(err, 'branch'));
      this.status.branch = result.branch;
      return result;
    }))!;
  }

  async commit(req: CommitRequest, operation: string | undefined): Promise<CommitResult> {
    return (await this.exclusive('commit', () => {
      const summary = `commit: ${oneLine(req.message, 60)}`;
      return this.place.quick(
        summary,
        (local, queue, op) => local.commitChangesHere(queue, this.opened!.session, req, op),
        () => this.place.activities(summary).commitChanges(this.opened!.session, req, operation),
        operation,
      ).catch((err) => this.fail(err, 'commit'));
    }))!;
  }

  async push(req: PushRequest): Promise<PushResult> {
    if (this.gated('push')) {
      return (await this.exclusive('push', async () => {
        const pending = await this.requestApproval('push', { push: req }, 1, new Date(Date.now()).toISOString());
        return { success: false, awaiting_approval: true, remote: req.remote, branch: pending.branch ?? 'HEAD', commit_hash: pending.commit_hash ?? '', set_upstream: req.set_upstream };
      }))!;
    }
    return (await this.exclusive('push', () => this.pushNow(req)))!;
  }

  private pushNow(req: PushRequest): Promise<PushResult> {
    return this.place.run(() => this.place.activities(`push: ${req.branch ?? this.status.branch ?? 'HEAD'} to ${req.remote}`).pushBranch(this.opened!.session, req)).catch((err) =>
      this.fail(err, 'push'),
    );
  }

  // ---- the approval gate (approval-gate.ts has its rules) ----

  /** The session was opened with require_approval naming `operation`. */
  private gated(operation: GatedOperation): boolean {
    return (this.start.require_approval ?? []).includes(operation) && patched('approval-gate');
  }

  /** An operation waits for a reviewer (not while a review is being carried out). */
  get awaitingApproval(): boolean {
    return this.status.awaiting_approval !== undefined && !this.reviewing;
  }

  /** When a session waiting for a decision is closed: approval_timeout counted from the latest request. */
  approvalDeadline(): number | undefined {
    const pending = this.status.awaiting_approval;
    return pending && !this.reviewing ? Date.parse(pending.requested_at) + (this.opened!.approval_timeout_ms ?? DEFAULT_APPROVAL_TIMEOUT_MS) : undefined;
  }

  /** The operation waits for a decision: record what it would send and answer at once (no caller holds a call open for days). */
  private async requestApproval(operation: GatedOperation, req: GatedRequest, round: number, requestedAt: string): Promise<AwaitingApproval> {
    const stat = await this.place.run(() =>
      this.place.activities(`approval: what the ${operation} would send`).diffSession(this.opened!.session, { uncommitted: false, max_bytes: 1000 }),
    ).catch((err) => this.fail(err, operation));
    const pending = awaitingRecord(operation, req, req.push.branch ?? this.status.branch, stat, round, requestedAt);
    this.status.awaiting_approval = pending;
    this.status.state = 'awaiting_approval';
    return pending;
  }

  /**
   * A reviewer's decision. approve: the operation runs. reject: it does not; with feedback the agent works on it in
   * the same conversation, its changes are committed, and the operation waits for a decision again.
   */
  async review(req: ReviewRequest): Promise<ReviewResult> {
    const pending = this.status.awaiting_approval;
    if (!pending || this.reviewing) throw failure(`session ${this.id} has nothing awaiting approval${this.reviewing ? ' (a review is being carried out)' : ''}`, 'conflict');
    const review = {
      operation: pending.operation,
      decision: req.decision,
      ...(req.feedback ? { feedback: req.feedback } : {}),
      ...(req.reviewer ? { reviewer: req.reviewer } : {}),
      at: new Date(Date.now()).toISOString(),
      round: pending.round,
    };
    this.status.reviews = [...(this.status.reviews ?? []), review].slice(-REVIEWS_KEPT);
    const key = `review-${this.status.reviews.length}-${pending.round}`;
    this.lastActive = Date.now();
    this.reviewing = true;
    this.publish();
    try {
      if (req.decision === 'approve') {
        this.status.awaiting_approval = undefined;
        this.status.state = 'open';
        try {
          if (pending.operation === 'pr') return { decision: 'approve', pr: (await this.exclusive('pr', () => this.prNow({ draft: false, ...pending.pr })))!, awaiting_approval: false };
          return { decision: 'approve', push: (await this.exclusive('push', () => this.pushNow(requestOf(pending).push)))!, awaiting_approval: false };
        } catch (err) {
          // It failed (a rejected push, a branch the forge lacks, a lost worker): the approval is not used up, it still waits.
          if (!this.closed) Object.assign(this.status, { awaiting_approval: pending, state: 'awaiting_approval' });
          throw err;
        }
      }
      if (!req.feedback) {
        this.status.awaiting_approval = undefined;
        this.status.state = 'open';
        return { decision: 'reject', awaiting_approval: false };
      }
      // The fix runs while the push still waits: other callers stay refused, only this review's operations run.
      let fix: CodeResult | undefined;
      let commit: CommitResult | undefined;
      const again = () => this.requestApproval(pending.operation, requestOf(pending), pending.round + 1, new Date(Date.now()).toISOString());
      try {
        fix = await this.code(parseInput(CodeInput, { instruction: fixInstruction(review) }, 'review'), `${key}-fix`);
        if (fix.success && fix.files_changed.length > 0) commit = await this.commit(parseInput(CommitInput, { message: fixCommitMessage(review) }, 'review'), `${key}-commit`);
      } finally {
        // Whatever the fix did, the push waits for a decision again: the gate is never left open by a failure.
        if (!this.closed) {
          await this.exclusive(pending.operation, again).catch(() => {
            if (!this.closed) Object.assign(this.status, { awaiting_approval: { ...pending, round: pending.round + 1, requested_at: new Date(Date.now()).toISOString() }, state: 'awaiting_approval' });
          });
        }
      }
      return { decision: 'reject', fix, ...(commit ? { commit } : {}), awaiting_approval: true };
    } finally {
      this.reviewing = false;
      this.publish();
    }
  }

  /** A review decision is being carried out (its push, or the agent's fix): another waits for the next request. */
  get reviewInProgress(): boolean {
    return this.reviewing;
  }

  /** coding_diff. Read-only, so it does not queue behind the running operation: a reviewer may look while a task works. */
  async diff(req: DiffRequest): Promise<DiffResult> {
    await condition(() => this.status.state !== 'opening');
    this.assertAccepting();
    if (this.status.state !== 'open' && this.status.state !== 'awaiting_approval') throw failure(`session ${this.id} is ${this.status.state}`, 'session_closed');
    try {
      return await this.place.activities(`diff against ${req.base ?? 'the session start'}`).diffSession(this.opened!.session, req);
    } catch (err) {
      throw this.place.failureOf(err, 'diff');
    }
  }

  /**
   * coding_pr: open or update the pull request of the session's branch. A forge call, not a workspace one: it runs
   * on any worker of the session's queue (they share the config, so the forge token). In turn with the session's
   * other operations, so it sees the branch the last one left.
   */
  async pr(req: PrRequest): Promise<PrResult> {
    if (this.gated('pr')) {
      return (await this.exclusive('pr', async () => {
        const { session_id: _, ...asked } = req;
        const pending = await this.requestApproval('pr', { push: PR_REMOTE, pr: asked }, 1, new Date(Date.now()).toISOString());
        return { head: pending.branch ?? 'HEAD', ...(req.base ? { base: req.base } : {}), created: false, awaiting_approval: true };
      }))!;
    }
    return (await this.exclusive('pr', () => this.prNow(req)))!;
  }

  private async prNow(req: PrRequest): Promise<PrResult> {
    const activities = proxyActivities<Activities>({
      startToCloseTimeout: '5 minutes',
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: { maximumAttempts: this.opened!.max_attempts, initialInterval: '2 seconds' },
      summary: `pull request: ${this.status.branch ?? 'HEAD'} into ${req.base ?? 'its base'}`,
    });
    const { tasks, tasks_run, cost, repo_url, branch } = this.view();
    const order = {
      session_id: this.id,
      repo_url,
      branch,
      start_branch: this.start.branch ?? this.opened!.branch,
      title: this.start.title,
      token_env: this.opened!.session.token_env,
      tasks,
      tasks_run,
      cost,
      request: req,
    };
    const result = await activities.openPullRequest(order).catch((err) => this.fail(err, 'pull request'));
    this.status.pull_request = result;
    return result;
  }

  async closeBy(success: boolean): Promise<CloseResult> {
    return (await this.exclusive('close', () => this.close(success, 'closed')))!;
  }

  /** End the session: apply the cleanup policy on the worker that holds the workspace. */
  async close(success: boolean, reason: CloseResult['reason']): Promise<CloseResult> {
    this.status.awaiting_approval = undefined; // what waited is not done; the review history stays
    this.status.state = 'closing';
    this.publish();
    const policy = this.opened!.cleanup_policy;
    const lastTaskOk = this.status.tasks.at(-1)?.success ?? true;
    const deleteWorkspace = this.opened!.session.managed && (policy === 'on_session_end' || (policy === 'on_success' && success && lastTaskOk));
    let deleted = false;
    try {
      // A worker known to be lost gets a moment, not the full wait: the session ends either way.
      const wait = this.place.lost ? { scheduleToStartTimeout: '5 seconds' } : {};
      const done = await this.place.activities(`close: ${deleteWorkspace ? 'delete workspace' : 'keep workspace'}`, wait).closeSession(this.opened!.session, deleteWorkspace);
      deleted = done.workspace_deleted;
      if (done.saved_to) this.status.saved_to = done.saved_to;
    } catch (err) {
      // The session still ends; the state says why the workspace may remain.
      this.status.last_error = `cleanup failed: ${this.place.failureOf(err, 'close').message}`;
    }
    this.status.state = 'closed';
    this.closeResult = { session_id: this.id, success, reason, workspace_path: this.opened!.session.workspace_path, workspace_deleted: deleted, ...(this.status.saved_to ? { saved_to: this.status.saved_to } : {}) };
    this.publish();
    return this.closeResult;
  }

  // ---- budget ----

  remainingBudget(): Budget | undefined {
    return remainingBudget(this.opened?.budget, this.status);
  }

  budgetExhausted(): string | undefined {
    return budgetExhausted(this.opened?.budget, this.status);
  }

  // ---- records and publishing ----

  private fail(err: unknown, operation: string): never {
    const reason = this.place.failureOf(err, operation);
    this.status.last_error = reason.message;
    throw reason;
  }

  private failedTask(error: string, summary?: string, spent?: TaskCheckpoint): CodeResult {
    return failedResult(this.view().backend ?? 'claudecode', error, summary, spent);
  }

  private record(task: TaskRef, result: CodeResult): void {
    if (!result.success) this.status.last_error = result.error ?? result.summary;
    this.status.tasks_run++;
    this.status.cost += result.trace.cost;
    this.status.tokens = addTokens(this.status.tokens, result.trace.tokens);
    this.status.tasks = [...this.status.tasks, taskRecord(task, result)].slice(-TASKS_KEPT);
  }

  /** The status as the query and the UI show it: the record plus the running and queued code tasks. */
  view(): SessionStatus {
    const ref = ({ task, update_id, instruction }: QueuedTask): TaskRef => ({ task, update_id, instruction });
    const running = this.tasks.find((t) => t.scope);
    // Once open, the workspace's facts are the session reference's (kept once, changed by a failover or a task).
    const session = this.opened?.session;
    return {
      ...this.status,
      ...(session
        ? { backend: session.backend, workspace_path: session.workspace_path, managed: session.managed, repo_url: session.repo_url, backend_session_id: session.backend_session_id }
        : {}),
      ...(running ? { running_task: ref(running) } : {}),
      queued_tasks: this.tasks.filter((t) => !t.scope && !t.cancelled).map(ref),
    };
  }

  /** Publish the session's state where Temporal's own tools see it (publish.ts). */
  publish(): void {
    this.publisher.publish(this.view(), this.searchAttributes);
  }
}
