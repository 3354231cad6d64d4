// The typed client library: the six tool operations (plus status, list and cancel) over Temporal,
// for services that drive coding sessions programmatically. Inputs are validated here with the contract's
// schemas, so a bad request fails fast with a message naming the field.
import { randomBytes } from 'node:crypto';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateStage,
  type Connection,
  type WorkflowHandle,
} from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { defaultPayloadConverter, type UpdateDefinition } from '@temporalio/common';
import {
  BranchInput,
  CloseInput,
  CodeInput,
  CommitInput,
  InvalidInputError,
  OpenInput,
  PushInput,
  WORKFLOW_TYPE,
  parseOrThrow,
  type BranchResult,
  type CloseResult,
  type CodeResult,
  type CommitResult,
  type OpenResult,
  type ProgressEvent,
  type PushResult,
  type SessionStart,
  type SessionStatus,
  type TaskProgress,
} from '../contract.js';
import { ensureSearchAttributes } from '../search-attributes-setup.js';
import type { SessionRunOptions } from '../workflows/coding-session.js';
import { branchUpdate, cancelSignal, closeUpdate, codeUpdate, commitUpdate, openUpdate, pushUpdate, statusQuery, type SessionEnd } from '../workflows/definitions.js';

export interface ClientOptions {
  namespace: string;
  taskQueue: string;
  /** Propagate the trace of each call into the workflow (client interceptor), when tracing is on. */
  tracing?: boolean;
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

/** Every failure the client reports: one line, naming the cause. */
export class CodingClientError extends Error {
  override name = 'CodingClientError';
}

export class CodingClient {
  readonly client: Client;
  private searchAttributes?: Promise<boolean>;

  constructor(
    connection: Connection,
    private readonly options: ClientOptions,
  ) {
    const interceptors = options.tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
    this.client = new Client({ connection, namespace: options.namespace, interceptors });
  }

  /** coding_open: start a session (or attach to the running one of a workflow scope) and wait until it is open. */
  async open(input: OpenInput, runOptions: SessionRunOptions = {}): Promise<OpenResult> {
    const req = parseOrThrow(OpenInput, input, 'coding_open input');
    const sessionId = req.scope === 'workflow' ? `coding_wf_${req.scope_id}` : (req.session_id ?? newSessionId());
    const start: SessionStart = { ...req, session_id: sessionId };
    this.searchAttributes ??= ensureSearchAttributes(this.client.connection.operatorService, this.options.namespace, (line) => console.error(`station-coding: ${line}`));
    const search_attributes = await this.searchAttributes;
    let handle: WorkflowHandle;
    try {
      handle = await this.client.workflow.start(WORKFLOW_TYPE, {
        workflowId: sessionId,
        taskQueue: this.options.taskQueue,
        args: [start, { ...runOptions, search_attributes }],
        workflowIdConflictPolicy: req.scope === 'workflow' ? 'USE_EXISTING' : 'FAIL',
        staticSummary: `coding session${req.title ? `: ${req.title}` : ''}${req.repo_url ? ` on ${req.repo_url}` : ''}`,
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CodingClientError(`session_id: ${sessionId} is already in use by a running session`);
      throw explain(err, sessionId);
    }
    return this.update(handle, openUpdate, input, sessionId);
  }

  /** code: run a coding task. `onProgress` receives the backend's tool calls while it runs. */
  async code(input: CodeInput & { session_id: string }, onProgress?: (event: ProgressEvent) => void): Promise<CodeResult> {
    parseOrThrow(CodeInput, input, 'code input');
    const handle = this.handle(input.session_id);
    if (!onProgress) return this.update(handle, codeUpdate, input, input.session_id);
    let update;
    try {
      update = await handle.startUpdate(codeUpdate, { args: [input], waitForStage: WorkflowUpdateStage.ACCEPTED });
    } catch (err) {
      throw await this.explainMissing(err, handle, input.session_id);
    }
    const result = update.result();
    let seen = 0;
    let done = false;
    void result.finally(() => (done = true)).catch(() => {});
    while (!done) {
      seen = await this.readProgress(handle, seen, onProgress).catch(() => seen);
      await Promise.race([result.catch(() => {}), sleep(500)]);
    }
    try {
      return await result;
    } catch (err) {
      throw explain(err, input.session_id);
    }
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

  async close(input: CloseInput & { session_id: string }): Promise<CloseResult> {
    parseOrThrow(CloseInput, input, 'coding_close input');
    return this.update(this.handle(input.session_id), closeUpdate, input, input.session_id);
  }

  /** Abort the task that is running in the session, if any. */
  async cancel(sessionId: string): Promise<void> {
    try {
      await this.handle(sessionId).signal(cancelSignal);
    } catch (err) {
      throw await this.explainMissing(err, this.handle(sessionId), sessionId);
    }
  }

  async status(sessionId: string): Promise<SessionStatus> {
    const handle = this.handle(sessionId);
    try {
      const description = await handle.describe();
      if (description.status.name === 'RUNNING') return await handle.query(statusQuery);
      if (description.status.name === 'COMPLETED') return ((await handle.result()) as SessionEnd).status;
      throw new CodingClientError(`session ${sessionId} ended abnormally (${description.status.name.toLowerCase()})`);
    } catch (err) {
      throw explain(err, sessionId);
    }
  }

  /** Recent sessions, newest first, from the workflow list (state and totals from the memo the session keeps). */
  async list(limit = 50): Promise<SessionListing[]> {
    const rows: SessionListing[] = [];
    for await (const info of this.client.workflow.list({ query: `WorkflowType = '${WORKFLOW_TYPE}'` })) {
      const memo = (info.memo ?? {}) as Record<string, unknown>;
      const running = info.status.name === 'RUNNING';
      rows.push({
        session_id: info.workflowId,
        state: running ? String(memo.state ?? 'open') : info.status.name === 'COMPLETED' ? String(memo.state ?? 'closed') : info.status.name.toLowerCase(),
        backend: memo.backend as string | undefined,
        repo_url: memo.repo_url as string | undefined,
        branch: memo.branch as string | undefined,
        cost: memo.cost as number | undefined,
        tasks_run: memo.tasks_run as number | undefined,
        title: memo.title as string | undefined,
        started: info.startTime.toISOString(),
      });
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
    if (err instanceof WorkflowNotFoundError) {
      const ended = await handle.describe().then(
        (d) => d.status.name !== 'RUNNING',
        () => false,
      );
      if (ended) return new CodingClientError(`session ${sessionId} is closed`);
    }
    return explain(err, sessionId);
  }

  /** Read the running code activity's heartbeat (its latest tool calls) and pass on the events not seen yet. */
  private async readProgress(handle: WorkflowHandle, seen: number, onProgress: (event: ProgressEvent) => void): Promise<number> {
    const { raw } = await handle.describe();
    for (const activity of raw.pendingActivities ?? []) {
      if (activity.activityType?.name !== 'runCode') continue;
      const payload = activity.heartbeatDetails?.payloads?.[0];
      if (!payload) continue;
      const progress = defaultPayloadConverter.fromPayload<TaskProgress>(payload as never);
      if (!progress || progress.seq <= seen) continue;
      const fresh = progress.events.slice(Math.max(0, progress.events.length - (progress.seq - seen)));
      for (const event of fresh) onProgress(event);
      return progress.seq;
    }
    return seen;
  }
}

export function newSessionId(): string {
  return `coding_${Date.now()}_${randomBytes(3).toString('hex')}`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One line a person can act on, from whatever Temporal threw. */
export function explain(err: unknown, sessionId: string): Error {
  if (err instanceof CodingClientError || err instanceof InvalidInputError) return err;
  if (err instanceof WorkflowNotFoundError) return new CodingClientError(`session ${sessionId} not found`);
  if (err instanceof WorkflowUpdateFailedError) {
    const cause = err.cause as Error | undefined;
    return new CodingClientError(cause?.message ?? err.message);
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/workflow execution already completed|workflow (execution )?not found|already completed/i.test(message)) {
    return new CodingClientError(`session ${sessionId} is closed`);
  }
  if (/not found/i.test(message)) return new CodingClientError(`session ${sessionId} not found`);
  return new CodingClientError(message.split('\n')[0] ?? 'unknown error');
}
