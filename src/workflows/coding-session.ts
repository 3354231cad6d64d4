// One coding session = one workflow. Deterministic orchestration only: every operation is an activity on the
// worker that holds the workspace; the workflow keeps the session's state, serializes operations, closes idle
// agent-scope sessions, and continues as new before its history grows large.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities, OpenedSession } from '../activities/index.js';
import {
  BranchInput,
  CloseInput,
  CodeInput,
  CommitInput,
  PushInput,
  invalidRepoUrlReason,
  parseOrThrow,
  addTokens,
  countedTokens,
  zeroTokens,
  type Budget,
  type CloseResult,
  type CodeResult,
  type SessionStart,
  type SessionStatus,
  type TaskRecord,
} from '../contract.js';
import {
  branchUpdate,
  cancelSignal,
  closeUpdate,
  codeUpdate,
  commitUpdate,
  openUpdate,
  pushUpdate,
  statusQuery,
  type SessionEnd,
} from './definitions.js';
import { SEARCH_ATTRIBUTES } from './search-attributes.js';
import type { SearchAttributeUpdatePair } from '@temporalio/common';

export interface SessionRunOptions {
  /** State handed over by continue-as-new. */
  carried?: { opened: OpenedSession; status: SessionStatus; opens: number };
  /** Continue as new once history has this many events (default 2000; the server also suggests it). */
  history_event_limit?: number;
  /** The cluster has the session search attributes (the client checks and registers them). */
  search_attributes?: boolean;
}

const TASKS_KEPT = 50;
const TASK_TIMEOUT_GRACE_MS = 2 * 60_000;
const HEARTBEAT_TIMEOUT = '20 seconds';
/** If the worker holding the workspace is gone this long, an operation fails instead of waiting forever. */
const HOST_PICKUP_TIMEOUT = '5 minutes';

export async function codingSession(start: SessionStart, options: SessionRunOptions = {}): Promise<SessionEnd> {
  const historyLimit = options.history_event_limit ?? 2000;
  let opened = options.carried?.opened;
  let opens = options.carried?.opens ?? 0;
  const status: SessionStatus = options.carried?.status ?? {
    session_id: start.session_id,
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
  let closeResult: CloseResult | undefined;
  let operations = 0; // changes at the start and end of every operation: what the idle timer watches
  let running: CancellationScope | undefined;
  const lastTaskOk = () => status.tasks.at(-1)?.success ?? true;

  /** Publish the session's state where Temporal's own tools see it: memo, and search attributes when registered. */
  const publish = () => {
    upsertMemo({
      backend: status.backend,
      repo_url: status.repo_url,
      branch: status.branch,
      state: status.state,
      scope: status.scope,
      title: status.title,
      cost: status.cost,
      tasks_run: status.tasks_run,
    });
    if (!options.search_attributes) return;
    const pairs: SearchAttributeUpdatePair[] = [
      { key: SEARCH_ATTRIBUTES.state, value: status.state },
      { key: SEARCH_ATTRIBUTES.scope, value: status.scope },
      { key: SEARCH_ATTRIBUTES.cost, value: status.cost },
    ];
    if (status.backend) pairs.push({ key: SEARCH_ATTRIBUTES.backend, value: status.backend });
    if (status.repo_url) pairs.push({ key: SEARCH_ATTRIBUTES.repo, value: status.repo_url });
    if (status.branch) pairs.push({ key: SEARCH_ATTRIBUTES.branch, value: status.branch });
    upsertSearchAttributes(pairs);
  };

  const hostActivities = (summary: string, extra: Partial<ActivityOptions> = {}) =>
    proxyActivities<Activities>({
      taskQueue: opened!.worker_queue,
      startToCloseTimeout: '30 minutes',
      scheduleToStartTimeout: HOST_PICKUP_TIMEOUT,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: { maximumAttempts: opened!.max_attempts, initialInterval: '1 second' },
      summary,
      ...extra,
    });

  /** Operations run one at a time, in a session that is open. */
  async function exclusive<T>(name: string, fn: () => Promise<T>): Promise<T> {
    await condition(() => status.busy === undefined);
    if (status.state !== 'open') throw ApplicationFailure.nonRetryable(`session ${start.session_id} is ${status.state}`, 'session_closed');
    status.busy = name;
    operations++;
    try {
      return await fn();
    } finally {
      status.busy = undefined;
      operations++;
      publish();
    }
  }

  /** Update handlers must fail with an ApplicationFailure carrying the real cause, never fail the workflow. */
  function operationFailure(err: unknown): ApplicationFailure {
    const cause = err instanceof ActivityFailure ? err.cause : err;
    if (cause instanceof ApplicationFailure) return ApplicationFailure.nonRetryable(cause.message, cause.type ?? 'error');
    const message = cause instanceof Error ? cause.message : String(cause);
    return ApplicationFailure.nonRetryable(message, 'error');
  }

  const assertAcceptsOperations = () => {
    if (status.state === 'opening') return; // the operation waits until the session is open
    if (status.state !== 'open') throw new Error(`session ${start.session_id} is ${status.state}`);
  };

  /** What the session may still spend, when it has a budget. */
  const remainingBudget = (): Budget | undefined => {
    const budget = opened?.budget;
    if (!budget || (budget.max_cost_usd === undefined && budget.max_tokens === undefined)) return undefined;
    return {
      ...(budget.max_cost_usd !== undefined ? { max_cost_usd: budget.max_cost_usd - status.cost } : {}),
      ...(budget.max_tokens !== undefined ? { max_tokens: budget.max_tokens - countedTokens(status.tokens) } : {}),
    };
  };
  const budgetExhausted = (): string | undefined => {
    const left = remainingBudget();
    if (left?.max_cost_usd !== undefined && left.max_cost_usd <= 0) {
      return `budget exhausted: the session spent $${status.cost.toFixed(4)} of its $${opened!.budget.max_cost_usd} (max_cost_usd)`;
    }
    if (left?.max_tokens !== undefined && left.max_tokens <= 0) {
      return `budget exhausted: the session used ${countedTokens(status.tokens)} of its ${opened!.budget.max_tokens} tokens (max_tokens)`;
    }
    return undefined;
  };

  setHandler(statusQuery, () => status);

  setHandler(cancelSignal, () => running?.cancel());

  setHandler(
    openUpdate,
    async () => {
      opens++;
      await condition(() => status.state !== 'opening');
      if (status.state === 'failed') throw ApplicationFailure.nonRetryable(status.last_error ?? 'open failed', 'open_failed');
      return {
        session_id: start.session_id,
        workspace_path: opened!.session.workspace_path,
        repo_cloned: opened!.repo_cloned,
        managed: opened!.session.managed,
        attached: opens > 1,
        backend: opened!.session.backend,
        ...(status.branch ? { branch: status.branch } : {}),
      };
    },
    {
      validator: (input) => {
        if (status.state === 'closing' || status.state === 'closed') throw new Error(`session ${start.session_id} is ${status.state}`);
        const wanted = input?.repo_url;
        if (wanted && invalidRepoUrlReason(wanted) === undefined && start.repo_url && wanted !== start.repo_url) {
          throw new Error(`scope_id ${start.scope_id ?? start.session_id} is already open on ${start.repo_url}, not ${wanted}`);
        }
      },
    },
  );

  setHandler(
    codeUpdate,
    (input) =>
      exclusive('code', async () => {
        const { session_id: _, ...req } = CodeInput.parse(input);
        const exhausted = budgetExhausted();
        if (exhausted) throw ApplicationFailure.nonRetryable(exhausted, 'budget_exhausted');
        const activity = hostActivities(`code: ${oneLine(req.instruction, 80)}`, {
          // The backend stops the task at task_timeout itself and reports it; this is only the backstop.
          startToCloseTimeout: opened!.task_timeout_ms + TASK_TIMEOUT_GRACE_MS,
          cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
        });
        const scope = new CancellationScope();
        running = scope;
        let result: CodeResult;
        try {
          const outcome = await scope.run(() => activity.runCode(opened!.session, req, status.title, remainingBudget()));
          const { backend_session_id, ...rest } = outcome;
          if (backend_session_id) opened!.session.backend_session_id = status.backend_session_id = backend_session_id;
          result = rest;
        } catch (err) {
          if (!isCancellation(err)) {
            const failure = operationFailure(err);
            record(req.instruction, failedTask(failure.message));
            throw failure;
          }
          result = failedTask('cancelled');
        } finally {
          running = undefined;
        }
        record(req.instruction, result);
        return result;
      }),
    {
      validator: (input) => {
        validate(CodeInput, input, 'code');
        const exhausted = budgetExhausted();
        if (exhausted) throw new Error(exhausted);
      },
    },
  );

  setHandler(
    branchUpdate,
    (input) =>
      exclusive('branch', async () => {
        const { session_id: _, ...req } = BranchInput.parse(input);
        const result = await hostActivities(`branch: ${req.create ? 'create ' : ''}${req.branch}`)
          .createBranch(opened!.session, req)
          .catch(fail);
        status.branch = result.branch;
        return result;
      }),
    { validator: (input) => validate(BranchInput, input, 'branch') },
  );

  setHandler(
    commitUpdate,
    (input) =>
      exclusive('commit', async () => {
        const { session_id: _, ...req } = CommitInput.parse(input);
        return hostActivities(`commit: ${oneLine(req.message, 60)}`).commitChanges(opened!.session, req).catch(fail);
      }),
    { validator: (input) => validate(CommitInput, input, 'commit') },
  );

  setHandler(
    pushUpdate,
    (input) =>
      exclusive('push', async () => {
        const { session_id: _, ...req } = PushInput.parse(input);
        return hostActivities(`push: ${req.branch ?? status.branch ?? 'HEAD'} to ${req.remote}`).pushBranch(opened!.session, req).catch(fail);
      }),
    { validator: (input) => validate(PushInput, input, 'push') },
  );

  setHandler(
    closeUpdate,
    (input) =>
      exclusive('close', async () => {
        const req = CloseInput.parse(input ?? {});
        return closeSession(req.success, 'closed');
      }),
    { validator: (input) => validate(CloseInput, input ?? {}, 'close') },
  );

  function validate(schema: { safeParse: (v: unknown) => { success: boolean } }, input: unknown, what: string): void {
    assertAcceptsOperations();
    parseOrThrow(schema as never, input, `${what} input`);
    const id = (input as { session_id?: unknown } | undefined)?.session_id;
    if (id !== undefined && id !== start.session_id) throw new Error(`session_id: ${String(id)} does not match this session (${start.session_id})`);
  }

  function fail(err: unknown): never {
    status.last_error = operationFailure(err).message;
    throw operationFailure(err);
  }

  function failedTask(error: string): CodeResult {
    const summary = error === 'cancelled' ? 'The task was cancelled.' : `The task failed: ${error}`;
    const trace = { backend: opened!.session.backend, tokens: zeroTokens(), cost: 0, duration_ms: 0, tool_calls: [] };
    return { success: false, summary, error, files_changed: [], trace };
  }

  function record(instruction: string, result: CodeResult): void {
    if (!result.success) status.last_error = result.error ?? result.summary;
    const tokens = result.trace.tokens;
    status.tasks_run++;
    status.cost += result.trace.cost;
    status.tokens = addTokens(status.tokens, tokens);
    const entry: TaskRecord = {
      instruction: oneLine(instruction, 120),
      success: result.success,
      files_changed: result.files_changed.length,
      duration_ms: result.trace.duration_ms,
      tokens,
      cost: result.trace.cost,
      ...(result.error ? { error: oneLine(result.error, 300) } : {}),
    };
    status.tasks = [...status.tasks, entry].slice(-TASKS_KEPT);
  }

  async function closeSession(success: boolean, reason: CloseResult['reason']): Promise<CloseResult> {
    status.state = 'closing';
    const policy = opened!.cleanup_policy;
    const deleteWorkspace = opened!.session.managed && (policy === 'on_session_end' || (policy === 'on_success' && success && lastTaskOk()));
    let deleted = false;
    try {
      deleted = (await hostActivities(`close: ${deleteWorkspace ? 'delete workspace' : 'keep workspace'}`).closeSession(opened!.session, deleteWorkspace))
        .workspace_deleted;
    } catch (err) {
      // The session still ends; the state says why the workspace may remain.
      status.last_error = `cleanup failed: ${operationFailure(err).message}`;
    }
    status.state = 'closed';
    closeResult = { session_id: start.session_id, success, reason, workspace_path: opened!.session.workspace_path, workspace_deleted: deleted };
    return closeResult;
  }

  // ---- main ----
  if (!opened) {
    publish();
    try {
      opened = await proxyActivities<Activities>({
        startToCloseTimeout: '2 hours',
        heartbeatTimeout: HEARTBEAT_TIMEOUT,
        retry: { maximumAttempts: 3, initialInterval: '2 seconds' },
        summary: `open: ${start.repo_url ?? start.workspace_path ?? 'empty workspace'}`,
      }).openSession(start);
    } catch (err) {
      status.state = 'failed';
      status.last_error = operationFailure(err).message;
      publish();
      await condition(allHandlersFinished);
      return { close: { session_id: start.session_id, success: false, reason: 'open_failed', workspace_deleted: false }, status };
    }
    status.state = 'open';
    status.backend = opened.session.backend;
    status.workspace_path = opened.session.workspace_path;
    status.managed = opened.session.managed;
    status.repo_url = opened.session.repo_url;
    status.branch = opened.branch ?? status.branch;
    publish();
  }

  if (options.carried) publish(); // a new run starts with what the last one published
  const historyTooLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= historyLimit;
  const idleTimeoutMs = start.scope === 'agent' ? opened.idle_timeout_ms : undefined;
  while (!closeResult) {
    const seen = operations;
    const woken = () => closeResult !== undefined || operations !== seen || (historyTooLong() && status.busy === undefined);
    const active = idleTimeoutMs === undefined ? (await condition(woken), true) : await condition(woken, idleTimeoutMs);
    if (closeResult) break;
    if (!active && status.busy === undefined) {
      await closeSession(false, 'idle_timeout');
      break;
    }
    if (historyTooLong() && status.busy === undefined) {
      await condition(allHandlersFinished);
      if (!closeResult) await continueAsNew<typeof codingSession>(start, { ...options, carried: { opened, status, opens } });
    }
  }
  publish();
  await condition(allHandlersFinished);
  return { close: closeResult!, status };
}

function oneLine(text: string, max: number): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
