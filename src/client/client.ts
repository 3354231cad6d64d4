// The typed client library: the six tool operations (plus status, list and cancel) over Temporal,
// for services that drive coding sessions programmatically. Inputs are validated here with the contract's
// schemas, so a bad request fails fast with a message naming the field.
import { randomBytes } from 'node:crypto';
import { replayedToolCalls } from './progress-replay.js';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowFailedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  WorkflowUpdateStage,
  type Connection,
  type WorkflowHandle,
} from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { ApplicationFailure, CancelledFailure, NamespaceNotFoundError, TerminatedFailure, defaultPayloadConverter, type UpdateDefinition } from '@temporalio/common';
import {
  BranchInput,
  CancelInput,
  CheckInput,
  CloseInput,
  CodeInput,
  CommitInput,
  DiffInput,
  InvalidInputError,
  OpenInput,
  PushInput,
  ReviewInput,
  WORKFLOW_TYPE,
  addTokens,
  parseOrThrow,
  zeroTokens,
  type BranchResult,
  type ChecksResult,
  type CloseResult,
  type CodeResult,
  type CommitResult,
  type DiffResult,
  type OpenResult,
  type ProgressEvent,
  type PushResult,
  type ReviewResult,
  type SessionStatus,
  type TaskProgress,
  type Tokens,
  PrInput,
  PrResult,
} from '../contract.js';
import type { SessionRunOptions } from '../workflows/coding-session.js';
import { branchUpdate, cancelSignal, checkUpdate, closeUpdate, codeUpdate, commitUpdate, diffUpdate, openUpdate, prUpdate, pushUpdate, reviewUpdate, statusQuery, type SessionEnd } from '../workflows/definitions.js';

export interface ClientOptions {
  namespace: string;
  taskQueue: string;
  /** Propagate the trace of each call into the workflow (client interceptor), when tracing is on. */
  tracing?: boolean;
}

/** What `list` keeps: sessions in this state (open, closed, failed, ...), on this backend. */
export interface ListFilter {
  state?: string;
  backend?: string;
}

/** What a running task's heartbeat says besides its events. */
export interface TaskLive {
  tokens?: Tokens;
  cost?: number;
  waiting?: { ahead: number; limit: number };
}

export function liveOf(progress: TaskProgress): TaskLive {
  return { tokens: progress.checkpoint?.tokens, cost: progress.checkpoint?.cost, waiting: progress.waiting };
}

export interface SessionSnapshot {
  status: SessionStatus;
  /** The running task's latest heartbeat, if a task runs and has sent one. */
  progress?: TaskProgress;
  /** The session's workflow has ended: `status` is final. */
  ended: boolean;
}

export interface SessionListing {
  session_id: string;
  state: string;
  backend?: string;
  repo_url?: string;
  branch?: string;
  cost?: number;
  tasks_run?: number;
  title?: string;
  started: string;
}

/** Every failure the client reports: one line, naming the cause, with the contract's failure type when known. */
export class CodingClientError extends Error {
  override name = 'CodingClientError';
  constructor(
    message: string,
    /** One of the contract's FAILURE_TYPES (invalid_input, session_closed, open_failed, ...), when the session said. */
    readonly type?: string,
  ) {
    super(message);
  }
}

export class CodingClient {
  readonly client: Client;

  constructor(
    connection: Connection,
    private readonly options: ClientOptions,
  ) {
    const interceptors = options.tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
    this.client = new Client({ connection, namespace: options.namespace, interceptors });
  }

  /**
   * coding_open in one round trip: start the session (or attach to the running one with this id, e.g. a workflow
   * scope) and wait until it is open, with update-with-start.
   */
  async open(input: OpenInput, runOptions: SessionRunOptions = {}): Promise<OpenResult> {
    const req = parseOrThrow(OpenInput, input, 'coding_open input');
    const sessionId = req.scope === 'workflow' ? `coding_wf_${req.scope_id}` : (req.session_id ?? newSessionId());
    // The workflow id is the session id; the workflow applies the defaults itself, so it gets the input as given.
    const { session_id: _, ...startInput } = input;
    const startWorkflowOperation = new WithStartWorkflowOperation(WORKFLOW_TYPE, {
      workflowId: sessionId,
      taskQueue: this.options.taskQueue,
      args: Object.keys(runOptions).length > 0 ? [startInput, runOptions] : [startInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
      staticSummary: `coding session${req.title ? `: ${req.title}` : ''}${req.repo_url ? ` on ${req.repo_url}` : ''}`,
      staticDetails: [
        `repo: ${req.repo_url ?? req.workspace_path ?? '(empty workspace)'}`,
        `backend: ${req.backend ?? '(worker default)'} · scope: ${req.scope}${req.scope_id ? ` (${req.scope_id})` : ''}`,
        `status: \`station-coding status ${sessionId}\``,
      ].join('\n\n'),
    });
    try {
      return await this.client.workflow.executeUpdateWithStart(openUpdate, { args: [startInput], startWorkflowOperation });
    } catch (err) {
      throw await this.explainMissing(err, this.handle(sessionId), sessionId);
    }
  }

  /**
   * code: run a coding task. `onProgress` receives the backend's tool calls while it runs; `onLive` what its
   * heartbeat says besides (tokens and cost so far, a wait for a task slot), each time it is read.
   */
  async code(input: CodeInput & { session_id: string }, onProgress?: (event: ProgressEvent) => void, onLive?: (live: TaskLive) => void): Promise<CodeResult> {
    parseOrThrow(CodeInput, input, 'code input');
    const handle = this.handle(input.session_id);
    if (!onProgress && !onLive) return this.update(handle, codeUpdate, input, input.session_id);
    let update;
    try {
      update = await handle.startUpdate(codeUpdate, { args: [input], waitForStage: WorkflowUpdateStage.ACCEPTED });
    } catch (err) {
      throw await this.explainMissing(err, handle, input.session_id);
    }
    const result = update.result();
    // Per running code activity: a best-of-N task has one per attempt, each with its own count.
    const seen = new Map<string, number>();
    let toolCallsShown = 0;
    const show = (event: ProgressEvent) => {
      if (event.kind === 'tool_call') toolCallsShown++;
      onProgress?.(event);
    };
    let done = false;
    void result.finally(() => (done = true)).catch(() => {});
    while (!done) {
      await this.readProgress(handle, seen, show, onLive).catch(() => undefined);
      await Promise.race([result.catch(() => {}), sleep(PROGRESS_POLL_MS)]);
    }
    let outcome: CodeResult;
    try {
      outcome = await result;
    } catch (err) {
      throw explain(err, input.session_id);
    }
    // The tool calls the polling missed (a short task); a best-of-N result holds only the winner's, so none.
    if (onProgress && !outcome.attempts) for (const event of replayedToolCalls(outcome.trace.tool_calls, toolCallsShown)) onProgress(event);
    return outcome;
  }

  async branch(input: BranchInput & { session_id: string }): Promise<BranchResult> {
    parseOrThrow(BranchInput, input, 'coding_branch input');
    return this.update(this.handle(input.session_id), branchUpdate, input, input.session_id);
  }

  async commit(input: CommitInput & { session_id: string }): Promise<CommitResult> {
    parseOrThrow(CommitInput, input, 'coding_commit input');
    return this.update(this.handle(input.session_id), commitUpdate, input, input.session_id);
  }

  async push(input: PushInput & { session_id: string }): Promise<PushResult> {
    parseOrThrow(PushInput, input, 'coding_push input');
    return this.update(this.handle(input.session_id), pushUpdate, input, input.session_id);
  }

  /** coding_check: run the session's checks now. */
  async check(input: CheckInput & { session_id: string }): Promise<ChecksResult> {
    parseOrThrow(CheckInput, input, 'coding_check input');
    return this.update(this.handle(input.session_id), checkUpdate, input, input.session_id);
  }

  /** coding_pr: open the pull request of the session's branch, or update the open one. */
  async pr(input: PrInput & { session_id: string }): Promise<PrResult> {
    parseOrThrow(PrInput, input, 'coding_pr input');
    return this.update(this.handle(input.session_id), prUpdate, input, input.session_id);
  }

  /** coding_diff: what the session changed (read-only; answers while a task runs). */
  async diff(input: DiffInput & { session_id: string }): Promise<DiffResult> {
    parseOrThrow(DiffInput, input, 'coding_diff input');
    return this.update(this.handle(input.session_id), diffUpdate, input, input.session_id);
  }

  /**
   * A review decision on the operation awaiting approval. Answers once it is carried out: the push after an
   * approval; the agent's fix (and its commit) after a rejection with feedback, when the operation waits again.
   */
  async review(input: ReviewInput & { session_id: string }): Promise<ReviewResult> {
    parseOrThrow(ReviewInput, input, 'review input');
    return this.update(this.handle(input.session_id), reviewUpdate, input, input.session_id);
  }

  /** Wait (at most `timeoutMs`) until `reached` holds for the session's status; the status then, or undefined on timeout. */
  async waitFor(sessionId: string, reached: (status: SessionStatus, ended: boolean) => boolean, timeoutMs: number, pollMs = 500): Promise<SessionStatus | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { status, ended } = await this.snapshot(sessionId);
      if (reached(status, ended)) return status;
      if (Date.now() >= deadline) return undefined;
      await sleep(Math.min(pollMs, Math.max(1, deadline - Date.now())));
    }
  }

  async close(input: CloseInput & { session_id: string }): Promise<CloseResult> {
    parseOrThrow(CloseInput, input, 'coding_close input');
    return this.update(this.handle(input.session_id), closeUpdate, input, input.session_id);
  }

  /** Cancel a code task: the one named by `task` or `update_id`, else the one running (or the oldest queued). */
  async cancel(sessionId: string, target: Omit<CancelInput, 'session_id'> = {}): Promise<void> {
    parseOrThrow(CancelInput, target, 'cancel input');
    try {
      await this.handle(sessionId).signal(cancelSignal, target);
    } catch (err) {
      throw await this.explainMissing(err, this.handle(sessionId), sessionId);
    }
  }

  async status(sessionId: string): Promise<SessionStatus> {
    return (await this.snapshot(sessionId)).status;
  }

  /** The session's status and, while a task runs, that task's latest heartbeat; `ended` once the workflow has. */
  async snapshot(sessionId: string): Promise<SessionSnapshot> {
    const handle = this.handle(sessionId);
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING') {
        const status = await handle.query(statusQuery);
        const progress = status.running_task ? this.taskProgress(description.raw.pendingActivities) : undefined;
        const waiting = progress?.waiting;
        return { status: waiting ? { ...status, waiting_for_slot: waiting } : status, progress, ended: false };
      }
      if (description.status.name === 'COMPLETED') return { status: ((await handle.result()) as SessionEnd).status, ended: true };
      throw await this.endedAbnormally(handle, sessionId, description.status.name);
    } catch (err) {
      throw explain(err, sessionId);
    }
  }

  /** Recent sessions, newest first, from the workflow list (state and totals from the memo the session keeps); `filter` keeps the matching ones. */
  async list(limit = 50, filter: ListFilter = {}): Promise<SessionListing[]> {
    const rows: SessionListing[] = [];
    for await (const info of this.client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'` })) {
      const memo = (info.memo ?? {}) as Record<string, unknown>;
      const running = info.status.name === 'RUNNING';
      const row: SessionListing = {
        session_id: info.workflowId,
        state: running ? String(memo.state ?? 'open') : info.status.name === 'COMPLETED' ? String(memo.state ?? 'closed') : info.status.name.toLowerCase(),
        backend: memo.backend as string | undefined,
        repo_url: memo.repo_url as string | undefined,
        branch: memo.branch as string | undefined,
        cost: memo.cost as number | undefined,
        tasks_run: memo.tasks_run as number | undefined,
        title: memo.title as string | undefined,
        started: info.startTime.toISOString(),
      };
      if ((filter.state && row.state !== filter.state) || (filter.backend && row.backend !== filter.backend)) continue;
      rows.push(row);
      if (rows.length >= limit) break;
    }
    return rows;
  }

  handle(sessionId: string): WorkflowHandle {
    return this.client.workflow.getHandle(sessionId);
  }

  private async update<R, I>(handle: WorkflowHandle, def: UpdateDefinition<R, [I]>, input: I, sessionId: string): Promise<R> {
    try {
      return await handle.executeUpdate(def, { args: [input] });
    } catch (err) {
      throw await this.explainMissing(err, handle, sessionId);
    }
  }

  /** Temporal says "not found" both for a session that never existed and for one that has ended: tell them apart. */
  private async explainMissing(err: unknown, handle: WorkflowHandle, sessionId: string): Promise<Error> {
    if (!(err instanceof WorkflowNotFoundError) && grpcCode(err) !== GRPC_NOT_FOUND) return explain(err, sessionId);
    const status = await handle.describe().then(
      (d) => d.status.name,
      () => undefined,
    );
    if (status === undefined) return explain(err, sessionId);
    if (status === 'COMPLETED') return new CodingClientError(`session ${sessionId} is closed`, 'session_closed');
    if (status === 'RUNNING') return explain(err, sessionId);
    return this.endedAbnormally(handle, sessionId, status);
  }

  /** A session workflow that failed (an open that failed, an invalid start), was cancelled or terminated: say why. */
  private async endedAbnormally(handle: WorkflowHandle, sessionId: string, status: string): Promise<CodingClientError> {
    const cause = await handle.result().then(
      () => undefined,
      (err: unknown) => (err instanceof WorkflowFailedError ? err.cause : undefined),
    );
    if (cause instanceof ApplicationFailure) {
      const what = cause.type === 'open_failed' ? 'could not open' : 'failed';
      return new CodingClientError(`session ${sessionId} ${what}: ${cause.message}`, cause.type ?? undefined);
    }
    if (cause instanceof CancelledFailure) return new CodingClientError(`session ${sessionId} was cancelled`, 'session_closed');
    if (cause instanceof TerminatedFailure) return new CodingClientError(`session ${sessionId} was terminated: ${cause.message}`, 'session_closed');
    return new CodingClientError(`session ${sessionId} ended abnormally (${status.toLowerCase()})`, 'session_closed');
  }

  /** Read the running code activities' heartbeats (their latest tool calls) and pass on the events not seen yet. */
  private async readProgress(handle: WorkflowHandle, seen: Map<string, number>, onProgress: (event: ProgressEvent) => void, onLive?: (live: TaskLive) => void): Promise<void> {
    const { raw } = await handle.describe();
    const running = taskProgresses(raw.pendingActivities);
    if (running.length > 0) onLive?.(togetherLive(running.map((r) => r.progress)));
    for (const { id, progress } of running) {
      const before = seen.get(id) ?? 0;
      if (progress.seq <= before) continue;
      const fresh = progress.events.slice(Math.max(0, progress.events.length - (progress.seq - before)));
      // The attempts of a best-of-N task say whose event it is.
      for (const event of fresh) onProgress(progress.attempt ? { ...event, text: `attempt ${progress.attempt}: ${event.text}` } : event);
      seen.set(id, progress.seq);
    }
  }

  /** The heartbeat details of the running code activity among a workflow's pending activities, if any. */
  private taskProgress(pending: PendingActivities): TaskProgress | undefined {
    return taskProgresses(pending)[0]?.progress;
  }
}

type PendingActivities = Array<{ activityId?: string | null; activityType?: { name?: string | null } | null; heartbeatDetails?: { payloads?: unknown[] | null } | null }> | null | undefined;

/** The heartbeat details of every running code activity (one per attempt of a best-of-N task), by activity id. */
function taskProgresses(pending: PendingActivities): Array<{ id: string; progress: TaskProgress }> {
  const found: Array<{ id: string; progress: TaskProgress }> = [];
  for (const activity of pending ?? []) {
    if (activity.activityType?.name !== 'runCode') continue;
    const payload = activity.heartbeatDetails?.payloads?.[0];
    const progress = payload ? defaultPayloadConverter.fromPayload<TaskProgress>(payload as never) : undefined;
    if (progress) found.push({ id: activity.activityId ?? String(found.length), progress });
  }
  return found;
}

/** What several attempts' heartbeats say together: their tokens and cost summed, the first wait for a slot. */
function togetherLive(progresses: TaskProgress[]): TaskLive {
  if (progresses.length === 1) return liveOf(progresses[0]!);
  const lives = progresses.map(liveOf);
  const tokens = lives.some((l) => l.tokens) ? lives.reduce((sum, l) => (l.tokens ? addTokens(sum, l.tokens) : sum), zeroTokens()) : undefined;
  const cost = lives.some((l) => l.cost !== undefined) ? lives.reduce((sum, l) => sum + (l.cost ?? 0), 0) : undefined;
  const waiting = lives.find((l) => l.waiting)?.waiting;
  return { ...(tokens ? { tokens } : {}), ...(cost !== undefined ? { cost } : {}), ...(waiting ? { waiting } : {}) };
}

/**
 * How often a running task's progress is read. The worker sends a heartbeat as soon as the agent does something
 * (at most every 100 ms, worker.ts), so a tool call shows within about 200 ms plus two round trips; a describe
 * every 100 ms costs the cluster little next to a running agent.
 */
const PROGRESS_POLL_MS = 100;

export function newSessionId(): string {
  return `coding_${Date.now()}_${randomBytes(3).toString('hex')}`;
}

const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;

/** The gRPC status code of a service error (directly or as its cause), if any. */
function grpcCode(err: unknown): number | undefined {
  for (let e = err as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 3; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

/** One line a person can act on, from whatever Temporal threw; the session's failure type when it gave one. */
export function explain(err: unknown, sessionId: string): Error {
  if (err instanceof CodingClientError || err instanceof InvalidInputError) return err;
  if (err instanceof NamespaceNotFoundError) {
    return new CodingClientError(`namespace ${err.namespace} does not exist on this Temporal cluster: set coding.temporal.namespace or TEMPORAL_NAMESPACE`, 'not_found');
  }
  if (err instanceof WorkflowNotFoundError) return new CodingClientError(`session ${sessionId} not found`, 'not_found');
  if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) return new CodingClientError(cause.message, cause.type ?? undefined);
    if (cause instanceof CancelledFailure) return new CodingClientError('cancelled', 'cancelled');
    return new CodingClientError(firstLine(cause?.message ?? err.message));
  }
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) {
    return new CodingClientError(`session ${sessionId} did not answer in time (is a station-coding worker running on its task queue?)`, 'unavailable');
  }
  const message = firstLine(err instanceof Error ? err.message : String(err));
  if (grpcCode(err) === GRPC_UNAVAILABLE) return new CodingClientError(`Temporal is unreachable: ${message}`, 'unavailable');
  return new CodingClientError(message);
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? 'unknown error';
}
