// The session's activities. Thin on purpose: resolve the session's backend, call it, heartbeat while it
// works, and turn its errors into Temporal failures (retryable or not, token removed, one clear line).
import { createHash } from 'node:crypto';
import { ApplicationFailure, CancelledFailure, Context } from '@temporalio/activity';
import type { Backend, Budget, BranchRequest, Check, CheckResult, CodeRequest, CommitRequest, DiffRequest, ProgressEvent, PushRequest, SessionStart, TaskCheckpoint, TaskProgress } from '../contract.js';
import { workerId, type CodingConfig } from '../config.js';
import type { AttemptStat, AttemptWorkspaces, BackendRegistry, CodeOutcome, OperationRef, PreparedAttempts, SessionRef, SettledAttempts } from '../core/backend.js';
import { CodingError } from '../core/errors.js';
import { redact } from '../git/credentials.js';
import { GitCredentials } from '../git/host-credentials.js';
import { openPullRequest, type PullRequestOrder } from '../forge/open-pull-request.js';
import { Redactor } from '../secrets/redact.js';
import { truncate } from '../text.js';
import { sessionSettings, type SessionSettings } from './session-settings.js';
import type { Semaphore } from '../core/semaphore.js';

/** What the workflow learns from opening: where the workspace is and the settings of this session. */
export interface OpenedSession extends SessionSettings {
  session: SessionRef;
  repo_cloned: boolean;
  branch?: string;
  /** A remote backend: the local backend its coding agent codes with. */
  agent_backend?: Backend;
  /** Task queue of the worker that holds the workspace: every later activity goes there. */
  worker_queue: string;
  /** That worker's id (absent in histories from before it was returned: the queue's `@<worker id>` says it). */
  worker_id?: string;
  /** A checkpoint store is configured: a lost worker's session moves to another worker (restoreWorkspace). */
  checkpoint?: boolean;
}

/** Where a session's workspace was re-created by restoreWorkspace. */
export interface RestoredWorkspace {
  workspace_path: string;
  worker_queue: string;
  worker_id?: string;
  branch?: string;
}

export interface ActivityDeps {
  config: CodingConfig;
  backends: BackendRegistry;
  hostQueue: string;
  /** Make sure the session search attributes exist on the cluster: true when they do, false when refused. */
  searchAttributes: () => Promise<boolean>;
  /** The limit on code tasks running at once on this worker (local backends; a NATS agent has its own). */
  taskSlots: Semaphore;
}

const PROGRESS_KEPT = 20;
const HEARTBEAT_EVERY_MS = 1000;

export function createActivities({ config, backends, hostQueue, searchAttributes, taskSlots }: ActivityDeps) {
  /** The session's workspace is checkpointed for failover (backends/checkpointed.ts). */
  const checkpointed = (session: SessionRef) => backends.get(session.backend).restorable?.checkpointed(session) ?? false;

  /** Run `fn` with a heartbeat every second (liveness and cancellation; a task's progress also beats on news), mapping its errors. */
  async function heartbeating<T>(tokenEnv: string | undefined, fn: (signal: AbortSignal) => Promise<T>, details?: () => unknown): Promise<T> {
    const ctx = Context.current();
    // A local activity has no heartbeat (the workflow task it runs in is its liveness).
    const beat = () => {
      if (!ctx.info.isLocal) ctx.heartbeat(details?.());
    };
    beat();
    const timer = setInterval(beat, HEARTBEAT_EVERY_MS);
    // A worker shutting down (SIGTERM) stops its operations with this reason: they are handed over, not cancelled.
    const handedOver = () =>
      (ctx.cancellationSignal.reason as Error | undefined)?.message === 'WORKER_SHUTDOWN'
        ? ApplicationFailure.retryable(`worker ${hostQueue} shut down during the operation; it runs again when a worker serves ${hostQueue}`, 'unavailable')
        : undefined;
    // A task that fails or is cancelled still spent what it spent: its checkpoint travels with the failure.
    const spent = () => {
      const checkpoint = (details?.() as TaskProgress | undefined)?.checkpoint;
      return checkpoint ? [checkpoint] : [];
    };
    let result: T;
    try {
      result = await fn(ctx.cancellationSignal);
    } catch (err) {
      const shutdown = handedOver();
      if (shutdown) throw shutdown;
      if (ctx.cancellationSignal.aborted) throw new CancelledFailure('cancelled', spent());
      throw toFailure(err, backends.secrets(), spent());
    } finally {
      clearInterval(timer);
    }
    const shutdown = handedOver();
    if (shutdown) throw shutdown;
    return result;
  }

  function attemptsOf(session: SessionRef): AttemptWorkspaces {
    const capability = backends.get(session.backend).attempts;
    if (!capability) throw new CodingError(`attempts: the ${session.backend} backend cannot run best-of-N attempts (its workspaces are not on this worker)`, 'invalid_input');
    return capability;
  }

  async function createBranch(session: SessionRef, req: BranchRequest, operation?: string) {
    return heartbeating(session.token_env, (signal) => backends.get(session.backend).branch(session, req, signal, operationRef(operation)));
  }

  async function commitChanges(session: SessionRef, req: CommitRequest, operation?: string) {
    return heartbeating(session.token_env, (signal) => backends.get(session.backend).commit(session, req, signal, operationRef(operation)));
  }

  return {
    /** The workflow learns through this result whether it may upsert its search attributes (deterministic). */
    async registerSearchAttributes(): Promise<boolean> {
      return searchAttributes();
    },

    async openSession(start: SessionStart): Promise<OpenedSession> {
      const backend = start.backend ?? config.backend;
      const token_env = start.credentials?.token_env;
      return heartbeating(token_env, async (signal) => {
        // token_env is checked where the token lives: by the local workspace (configured and set), or by the coding agent (opencode-nats).
        const opened = await backends.get(backend).open(
          {
            session_id: start.session_id,
            backend,
            repo_url: start.repo_url,
            branch: start.branch,
            workspace_path: start.workspace_path,
            init: start.init,
            title: start.title,
            token_env,
          },
          signal,
        );
        const session: SessionRef = {
          session_id: start.session_id,
          backend,
          workspace_path: opened.workspace_path,
          managed: opened.managed,
          repo_url: opened.repo_url ?? start.repo_url,
          token_env,
        };
        return {
          session,
          repo_cloned: opened.repo_cloned,
          branch: opened.branch,
          ...(opened.agent_backend ? { agent_backend: opened.agent_backend } : {}),
          // A remote backend's workspace is on its agent, so any worker can carry its operations.
          ...(backends.get(backend).remote ? { worker_queue: config.temporal.task_queue } : { worker_queue: hostQueue, worker_id: workerId(config) }),
          ...sessionSettings(config, start),
          ...(checkpointed(session) ? { checkpoint: true } : {}),
        };
      });
    },

    async runCode(session: SessionRef, req: CodeRequest, title?: string, budget?: Budget): Promise<CodeOutcome> {
      // A retried attempt finds the last attempt's checkpoint in the heartbeat it left.
      const ctx = Context.current();
      const previous = ctx.info.heartbeatDetails as TaskProgress | undefined;
      const resume = previous?.checkpoint;
      // The count goes on from the last attempt's: a client showing the events has counted those already.
      const progress: TaskProgress = { seq: previous?.seq ?? 0, events: [], ...(resume ? { checkpoint: resume } : {}), ...(session.attempt ? { attempt: session.attempt } : {}) };
      const checkpoint = (c: TaskCheckpoint) => (progress.checkpoint = { ...progress.checkpoint, ...c });
      const onProgress = (event: ProgressEvent) => {
        progress.seq += 1;
        progress.events.push({ ...event, text: truncate(event.text, 300) });
        if (progress.events.length > PROGRESS_KEPT) progress.events.shift();
        // News goes out now, not with the next liveness beat: --tail and MCP progress read it from the heartbeat.
        ctx.heartbeat(progress);
      };
      return heartbeating(
        session.token_env,
        async (signal) => {
          const backend = backends.get(session.backend);
          const waitStarted = Date.now();
          const release =
            backend.remote
              ? () => {}
              : await taskSlots.acquire(signal, (wait) => {
                  progress.waiting = wait;
                  ctx.heartbeat(progress);
                });
          try {
            delete progress.waiting;
            const time_left_ms = config.task_timeout_min * 60_000 - (Date.now() - waitStarted);
            if (time_left_ms <= 0) {
              throw new CodingError(
                `no free task slot on worker ${hostQueue} within coding.task_timeout_min (${taskSlots.limit} tasks at once: raise coding.max_concurrent_tasks or add workers)`,
                'timeout',
              );
            }
            return await backend.code({ ...req, session, title, budget, resume, checkpoint, time_left_ms }, onProgress, signal);
          } finally {
            release();
          }
        },
        () => progress,
      );
    },

    async createBranch(session: SessionRef, req: BranchRequest, operation?: string) {
      return createBranch(session, req, operation);
    },

    async commitChanges(session: SessionRef, req: CommitRequest, operation?: string) {
      return commitChanges(session, req, operation);
    },

    /**
     * The same two operations as local activities: run inside the workflow task, which saves the activity task and
     * the second workflow task (half the round trips of a branch or commit), when this worker holds the workspace.
     * null when it does not: the workflow then sends the regular activity to the worker that does.
     */
    async createBranchHere(worker_queue: string, session: SessionRef, req: BranchRequest, operation: string) {
      return worker_queue === hostQueue ? createBranch(session, req, operation) : null;
    },

    async commitChangesHere(worker_queue: string, session: SessionRef, req: CommitRequest, operation: string) {
      return worker_queue === hostQueue ? commitChanges(session, req, operation) : null;
    },

    async pushBranch(session: SessionRef, req: PushRequest) {
      return heartbeating(session.token_env, (signal) => backends.get(session.backend).push(session, req, signal));
    },

    /**
     * The session's checks (its own from coding_open, else the worker's coding.checks for its repository), or the
     * ones named, run in its workspace.
     */
    async runChecks(session: SessionRef, own: Check[] | undefined, names?: string[]): Promise<CheckResult[]> {
      const configured = config.checks.filter((c) => !c.repo || (session.repo_url ?? '').includes(c.repo)).map(({ repo: _, ...check }) => check);
      const all = own ?? configured;
      const unknown = (names ?? []).filter((n) => !all.some((c) => c.name === n));
      if (unknown.length) throw new CodingError(`names: no check called ${unknown.join(', ')} (this session has: ${all.map((c) => c.name).join(', ') || 'none'})`, 'invalid_input');
      const chosen = names?.length ? all.filter((c) => names.includes(c.name)) : all;
      if (chosen.length === 0) return [];
      return heartbeating(session.token_env, (signal) => backends.get(session.backend).check(session, chosen, signal));
    },

    /** Best-of-N: copies of the workspace for the attempts of `task` (a backend without the capability refuses). */
    async prepareAttempts(session: SessionRef, task: number, count: number): Promise<PreparedAttempts> {
      // Task numbers start again in a new session of the same id: the run makes the name this task's own.
      const { workflowExecution: run } = Context.current().info;
      const label = `task-${task}-${createHash('sha256').update(`${run?.workflowId}\0${run?.runId}`).digest('hex').slice(0, 8)}`;
      return heartbeating(session.token_env, (signal) => attemptsOf(session).prepare(session, label, count, signal));
    },

    async measureAttempts(session: SessionRef, prepared: PreparedAttempts): Promise<AttemptStat[]> {
      return heartbeating(session.token_env, (signal) => attemptsOf(session).measure(prepared, signal));
    },

    async settleAttempts(session: SessionRef, prepared: PreparedAttempts, chosen: AttemptStat | undefined): Promise<SettledAttempts> {
      return heartbeating(session.token_env, (signal) => attemptsOf(session).settle(session, prepared, chosen, signal));
    },

    async diffSession(session: SessionRef, req: DiffRequest) {
      return heartbeating(session.token_env, (signal) => backends.get(session.backend).diff(session, req, signal));
    },

    /** coding_pr: a forge API call, no workspace needed (any worker with the host's token configured). */
    async openPullRequest(order: PullRequestOrder) {
      const credentials = GitCredentials.fromConfig(config);
      const redactor = Redactor.fromConfig(config).with(...credentials.secrets());
      return heartbeating(order.token_env, (signal) => openPullRequest(order, credentials, (text) => redactor.text(text) ?? '', signal));
    },

    async closeSession(session: SessionRef, delete_workspace: boolean) {
      // A retry may find the workspace already saved and deleted by the first attempt: its time tells that save apart.
      const asked_at_ms = Context.current().info.scheduledTimestampMs;
      return heartbeating(session.token_env, (signal) => backends.get(session.backend).close({ session, delete_workspace, asked_at_ms }, signal));
    },

    /**
     * Failover: re-create the workspace of a session whose worker is lost, on this worker (run on the shared queue,
     * so any worker takes it): a clone of the origin through the same credentials path as open, then the
     * checkpoint put back. Safe to run twice: a second run clones again and applies the same checkpoint.
     */
    async restoreWorkspace(session: SessionRef): Promise<RestoredWorkspace> {
      return heartbeating(session.token_env, async (signal) => {
        const restorable = backends.get(session.backend).restorable;
        if (!restorable) throw new CodingError(`worker ${hostQueue} has no coding.checkpoint.dir: it cannot take over session ${session.session_id}`, 'unavailable', true);
        const restored = await restorable.restore(session, signal).catch((err: unknown) => {
          // Where it looked: the failure reaches the workflow, which has no other way to tell.
          if (err instanceof CodingError) throw new CodingError(`${err.message} (worker ${workerId(config)})`, err.kind, err.retryable);
          throw err;
        });
        return { workspace_path: restored.workspace_path, worker_queue: hostQueue, worker_id: workerId(config), ...(restored.branch ? { branch: restored.branch } : {}) };
      });
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;

/**
 * The operation's key: the same on every attempt, whichever worker runs it and whether as a local activity or
 * not. The workflow names the operation (its update id); an activity scheduled by an older workflow that does not
 * is keyed by its activity id.
 */
function operationRef(operation: string | undefined): OperationRef {
  const { workflowExecution: run, activityId } = Context.current().info;
  const key = createHash('sha256').update(`${run?.workflowId}\0${run?.runId}\0${operation ?? activityId}`).digest('hex').slice(0, 20);
  return { key };
}

/** A CodingError keeps its kind and retryability; anything unexpected is retried as an infrastructure failure. */
export function toFailure(err: unknown, secrets: string[], details: unknown[] = []): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof CodingError) {
    return ApplicationFailure.create({ message: redact(err.message, secrets), type: err.kind, nonRetryable: !err.retryable, details });
  }
  const message = redact(err instanceof Error ? err.message : String(err), secrets).split('\n')[0] ?? 'unknown error';
  return ApplicationFailure.create({ message, type: 'unavailable', nonRetryable: false, details });
}
