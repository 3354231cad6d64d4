// The `opencode-nats` backend, in the Temporal worker: every session operation becomes a task message on a
// JetStream work queue; a coding agent (`station-coding nats-agent`, see agent.ts) does it with its local
// backend and answers. The workspace and the git token live on the agent.
//
//   open          -> <task>              any agent (durable consumer shared by all agents)
//   code, branch,
//   commit, push,
//   close         -> <task>.<agent>      only the agent holding the session (from the sessions KV bucket)
//   progress      <- <stream>.<taskID>   claimed / heartbeat (every second) / progress events, live
//   result        <- <result>.<taskID>   and the task record in the state KV bucket (task.<taskID>)
//   cancel        -> <stream>.cancel.<taskID>
//
// The task id is derived from the workflow id, run id, activity id and operation, never the attempt: a
// Temporal retry of the same operation finds the earlier attempt's record and is answered from it.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { Context } from '@temporalio/activity';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { BranchResult, CodeResult, CommitResult, PushResult } from '../contract.js';
import type { CodingConfig } from '../config.js';
import type {
  CloseOperation,
  CloseOutcome,
  CodeOperation,
  CodeOutcome,
  CodingBackend,
  OpenOperation,
  OpenOutcome,
  ProgressSink,
  SessionRef,
} from '../backends/backend.js';
import type { BranchRequest, CommitRequest, PushRequest } from '../contract.js';
import { CodingError, type ErrorKind } from '../backends/errors.js';
import { isWrongSequence, oneLine, openLink, type NatsLink } from './connection.js';
import {
  AgentRecord,
  PROTOCOL_VERSION,
  ProgressMessage,
  ResultMessage,
  SessionRecord,
  TaskMessage,
  TaskRecord,
  agentKey,
  answers,
  decodeWith,
  encode,
  sessionKey,
  taskKey,
  type ErrorInfo,
  type Op,
  type TaskInput,
} from './protocol.js';

const POLL_MS = 2000;
const TICK_MS = 250;
/** After a cancel, how long the agent has to stop the task and report. */
const CANCEL_WAIT_MS = 20_000;

const OpenOutcomeWire = z.object({
  workspace_path: z.string(),
  repo_cloned: z.boolean(),
  managed: z.boolean(),
  branch: z.string().optional(),
  repo_url: z.string().optional(),
});
const CodeOutcomeWire = CodeResult.extend({ backend_session_id: z.string().optional() });
const CloseOutcomeWire = z.object({ workspace_deleted: z.boolean() });

/** What a task ended with: a task record (state KV) or a result message. */
type Ending = Pick<TaskRecord, 'status' | 'result' | 'result_ref' | 'error'> & { attempt?: number };

export class NatsBackend implements CodingBackend {
  readonly name = 'opencode-nats' as const;
  private link?: Promise<NatsLink>;

  constructor(private readonly config: CodingConfig) {}

  async shutdown(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    await (await link?.catch(() => undefined))?.close();
  }

  async open(op: OpenOperation, signal: AbortSignal): Promise<OpenOutcome> {
    const result = await this.perform(
      {
        v: PROTOCOL_VERSION,
        op: 'open',
        ...taskIdentity('open'),
        session: op.session_id,
        repo_url: op.repo_url,
        branch: op.branch,
        workspace: op.workspace_path,
        title: op.title,
        token_env: op.token_env,
      },
      undefined,
      signal,
    );
    return parseResult(OpenOutcomeWire, result, 'open');
  }

  async code(op: CodeOperation, progress: ProgressSink, signal: AbortSignal): Promise<CodeOutcome> {
    const base = await this.sessionTask(op.session, 'code');
    const result = await this.perform(
      {
        ...base,
        op: 'code',
        prompt: op.instruction,
        context: op.context,
        files: op.files,
        title: op.title,
        backend_session_id: op.session.backend_session_id,
        budget: op.budget && (op.budget.max_cost_usd !== undefined || op.budget.max_tokens !== undefined) ? op.budget : undefined,
        timeout: Math.max(1, Math.round(this.config.task_timeout_min * 60)),
      },
      base.agent,
      signal,
      progress,
    );
    const outcome = parseResult(CodeOutcomeWire, result, 'code');
    return { ...outcome, trace: { ...outcome.trace, backend: this.name } };
  }

  async branch(session: SessionRef, req: BranchRequest, signal: AbortSignal) {
    const base = await this.sessionTask(session, 'branch');
    return parseResult(BranchResult, await this.perform({ ...base, op: 'branch', branch: req.branch, create: req.create }, base.agent, signal), 'branch');
  }

  async commit(session: SessionRef, req: CommitRequest, signal: AbortSignal) {
    const base = await this.sessionTask(session, 'commit');
    return parseResult(CommitResult, await this.perform({ ...base, op: 'commit', message: req.message, add_all: req.add_all }, base.agent, signal), 'commit');
  }

  async push(session: SessionRef, req: PushRequest, signal: AbortSignal) {
    const base = await this.sessionTask(session, 'push');
    const task = { ...base, op: 'push' as const, remote: req.remote, branch: req.branch, set_upstream: req.set_upstream };
    return parseResult(PushResult, await this.perform(task, base.agent, signal), 'push');
  }

  async close(op: CloseOperation, signal: AbortSignal): Promise<CloseOutcome> {
    const base = await this.sessionTask(op.session, 'close');
    const result = await this.perform({ ...base, op: 'close', delete_workspace: op.delete_workspace }, base.agent, signal);
    return parseResult(CloseOutcomeWire, result, 'close');
  }

  // ---------------------------------------------------------------------------------------------------

  private connection(): Promise<NatsLink> {
    if (!this.link) {
      const link = openLink(this.config.nats, `station-coding worker ${hostname()}`);
      this.link = link;
      link.catch(() => {
        if (this.link === link) this.link = undefined; // try again on the next operation
      });
    }
    return this.link;
  }

  /** The fields of a task on an open session, routed to the agent that holds it (sessions KV bucket). */
  private async sessionTask(session: SessionRef, op: Op) {
    const link = await this.connection();
    const entry = await link.sessions.get(sessionKey(session.session_id));
    const record = entry && entry.operation === 'PUT' ? decodeWith(SessionRecord, entry.value) : undefined;
    if (!record) {
      throw new CodingError(
        `session ${session.session_id} is not held by any coding agent (no record in the ${link.names.buckets.sessions} bucket): it was closed, or its agent's state was lost`,
        'not_found',
      );
    }
    return {
      v: PROTOCOL_VERSION,
      ...taskIdentity(op),
      session: session.session_id,
      agent: record.agent,
      workspace: session.workspace_path,
      token_env: session.token_env,
    };
  }

  /** Publish a task (unless an earlier attempt already did it or is doing it) and wait for its ending. */
  private async perform(input: TaskInput, agent: string | undefined, signal: AbortSignal, progress?: ProgressSink): Promise<unknown> {
    const parsed = TaskMessage.safeParse(input);
    if (!parsed.success) throw new CodingError(`cannot send the task: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'invalid_input');
    const task = parsed.data;
    const bytes = encode(task);
    const limit = this.config.nats.max_message_kb * 1024;
    if (bytes.length > limit) {
      throw new CodingError(`the ${task.op} task is ${bytes.length} bytes, more than agents accept (coding.nats.max_message_kb = ${this.config.nats.max_message_kb})`, 'invalid_input');
    }
    const link = await this.connection();
    const ending = await new TaskWait(link, this.config.nats.agent_timeout_sec * 1000, task, agent, bytes, signal, progress).run();
    return resultOf(link, ending, task.op);
  }
}

/** Task id from the activity: the same operation retried by Temporal gets the same id, a new one a new id. */
export function taskIdentity(op: Op): { taskID: string; attempt: number } {
  let info;
  try {
    info = Context.current().info;
  } catch {
    info = undefined; // not in an activity (a direct call): a one-off id
  }
  if (!info?.workflowExecution) return { taskID: `adhoc-${randomBytes(12).toString('hex')}`, attempt: info?.attempt ?? 1 };
  // The run id matters: after continue-as-new, activity ids start over in the new run.
  const { workflowId, runId } = info.workflowExecution;
  const taskID = createHash('sha256').update(['station-coding', workflowId, runId, info.activityId, op].join('\0')).digest('hex').slice(0, 32);
  return { taskID, attempt: info.attempt };
}

/** Waits for one task: result subject, progress subject, and the state / agents buckets as the source of truth. */
class TaskWait {
  private readonly key: string;
  private claimedBy?: { agent: string; incarnation?: string };
  private lastHeard = Date.now();
  private lastAlive = Date.now();
  private cancelAt?: number;
  private cancelSent = 0;
  private ending?: Ending;
  private wake?: () => void;

  constructor(
    private readonly link: NatsLink,
    private readonly agentTimeoutMs: number,
    private readonly task: TaskMessage,
    /** The agent the task is routed to; undefined for open (any agent). */
    private readonly agent: string | undefined,
    private readonly bytes: Uint8Array,
    private readonly signal: AbortSignal,
    private readonly progress?: ProgressSink,
  ) {
    this.key = taskKey(task.taskID);
  }

  async run(): Promise<Ending> {
    const { nc, names } = this.link;
    const known = await this.read();
    if (known && answers(known.record, this.task.attempt)) return known.record;

    const subs: Subscription[] = [
      nc.subscribe(this.task.callback ?? names.result(this.task.taskID), { callback: (err, msg) => void (err || this.onResult(msg)) }),
      nc.subscribe(names.progress(this.task.taskID), { callback: (err, msg) => void (err || this.onProgress(msg)) }),
    ];
    const onAbort = () => this.wake?.();
    this.signal.addEventListener('abort', onAbort);
    try {
      await nc.flush(); // the subscriptions are in place before anyone can answer
      if (known?.record.status === 'running') {
        // An earlier attempt (another worker, maybe) published it and an agent is on it: follow it.
        this.claimedBy = { agent: known.record.agent ?? '?', incarnation: known.record.incarnation };
      } else {
        await this.publish();
      }
      let nextPoll = Date.now() + POLL_MS;
      for (;;) {
        if (this.ending && answers(asRecord(this.ending, this.task), this.task.attempt)) return this.ending;
        const now = Date.now();
        if (this.signal.aborted) {
          const ended = await this.cancel(now);
          if (ended) return ended;
        }
        if (now >= nextPoll) {
          nextPoll = now + POLL_MS;
          const ended = await this.poll(now).catch(() => undefined); // NATS unreachable: keep waiting, never guess
          if (ended) return ended;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, TICK_MS);
        });
      }
    } finally {
      this.signal.removeEventListener('abort', onAbort);
      for (const sub of subs) sub.unsubscribe();
    }
  }

  private published = false;

  private async publish(): Promise<void> {
    const { js, names } = this.link;
    const subject = this.agent ? names.agentSubject(this.agent) : names.sharedSubject;
    try {
      // The message id makes a publish retried within the stream's duplicate window a no-op.
      await js.publish(subject, this.bytes, { msgID: `${this.task.taskID}-${this.task.attempt}` });
      this.published = true;
    } catch (err) {
      throw new CodingError(`cannot publish the ${this.task.op} task to ${subject}: ${oneLine(err)}`, 'unavailable', true);
    }
  }

  private onResult(msg: Msg): void {
    const message = decodeWith(ResultMessage, msg.data);
    if (!message || message.taskID !== this.task.taskID) return;
    if (message.status === 'rejected') {
      this.ending = { status: 'failed', error: message.error ?? { code: 'invalid_message', message: 'the agent rejected the task', retryable: false }, attempt: this.task.attempt };
    } else {
      this.ending = { status: message.status, result: message.result, result_ref: message.result_ref, error: message.error, attempt: message.attempt };
    }
    this.wake?.();
  }

  private onProgress(msg: Msg): void {
    const message = decodeWith(ProgressMessage, msg.data);
    if (!message || message.taskID !== this.task.taskID) return;
    this.lastHeard = Date.now();
    if (message.type === 'claimed' || !this.claimedBy) this.claimedBy = { agent: message.agent, incarnation: message.incarnation ?? this.claimedBy?.incarnation };
    if (message.type === 'progress' && message.event) {
      try {
        this.progress?.(message.event);
      } catch {
        // a progress sink never fails a task
      }
    }
  }

  private async read(): Promise<{ record: TaskRecord; revision: number } | undefined> {
    const entry = await this.link.state.get(this.key);
    if (!entry || entry.operation !== 'PUT') return undefined;
    const record = decodeWith(TaskRecord, entry.value);
    return record ? { record, revision: entry.revision } : undefined;
  }

  private async alive(agent: string): Promise<AgentRecord | undefined> {
    const entry = await this.link.agents.get(agentKey(agent));
    return entry && entry.operation === 'PUT' ? decodeWith(AgentRecord, entry.value) : undefined;
  }

  /** The record and the agents' liveness decide: finished, still running, or lost. */
  private async poll(now: number): Promise<Ending | undefined> {
    const current = await this.read();
    if (current && answers(current.record, this.task.attempt)) return current.record;
    if (current && !this.published && current.record.status !== 'running') {
      // We followed an earlier attempt that has now failed retryably: this attempt runs it again.
      await this.publish();
      return undefined;
    }
    if (current?.record.status === 'running') {
      const { agent = '?', incarnation } = current.record;
      if (this.claimedBy?.incarnation !== incarnation || this.claimedBy?.agent !== agent) {
        this.claimedBy = { agent, incarnation };
        this.lastHeard = now;
      }
      if (now - this.lastHeard <= this.agentTimeoutMs) return undefined;
      const live = await this.alive(agent);
      if (live && live.incarnation === incarnation && live.running.includes(this.task.taskID)) {
        this.lastHeard = now; // its heartbeats do not reach us, but the agent says it is on the task
        return undefined;
      }
      const seconds = Math.round((now - this.lastHeard) / 1000);
      return this.settle(
        current,
        lostRecord(
          this.task,
          `agent lost: coding agent ${agent} stopped responding during the ${this.task.op} task ${this.task.taskID} of session ${this.task.session} ` +
            `(no heartbeat for ${seconds}s); the task did not finish, and the session's workspace is on that agent: restart it to continue the session`,
          agent,
          current.record,
        ),
      );
    }
    if (!this.agent) return undefined; // open: waits for any agent, however long (a task published before any agent runs)
    const live = await this.alive(this.agent);
    if (live) {
      this.lastAlive = now;
      return undefined;
    }
    if (now - this.lastAlive <= this.agentTimeoutMs) return undefined;
    const seconds = Math.round((now - this.lastAlive) / 1000);
    return this.settle(
      current,
      lostRecord(
        this.task,
        `agent lost: coding agent ${this.agent}, which holds session ${this.task.session}, has not been alive for ${seconds}s; ` +
          `the ${this.task.op} task was not started: restart the agent to continue the session`,
        this.agent,
      ),
    );
  }

  /** Cancel: record it if no agent has the task yet, else ask the agent and wait for its result. */
  private async cancel(now: number): Promise<Ending | undefined> {
    if (this.cancelAt === undefined) {
      this.cancelAt = now;
      const current = await this.read().catch(() => undefined);
      if (!current || current.record.status !== 'running') {
        const ended = await this.settle(current, {
          ...baseRecord(this.task),
          status: 'cancelled',
          finished_at: new Date().toISOString(),
          error: { code: 'cancelled', message: 'cancelled', retryable: false },
        }).catch(() => undefined);
        if (ended) return ended;
      }
    }
    if (now - this.cancelSent >= 2000) {
      this.cancelSent = now;
      try {
        this.link.nc.publish(this.link.names.cancel(this.task.taskID), encode({ v: PROTOCOL_VERSION, type: 'cancel', taskID: this.task.taskID }));
      } catch {
        // disconnected: the next tick sends it again
      }
    }
    if (now - this.cancelAt > CANCEL_WAIT_MS) {
      throw new CodingError(`cancelled: the agent did not confirm within ${CANCEL_WAIT_MS / 1000}s that the ${this.task.op} task stopped`, 'cancelled');
    }
    return undefined;
  }

  /**
   * Write a final record unless the agent got there first (compare-and-set on the revision we read):
   * returns it, or undefined when someone else changed the record meanwhile (the next poll reads it).
   */
  private async settle(current: { record: TaskRecord; revision: number } | undefined, record: TaskRecord): Promise<TaskRecord | undefined> {
    try {
      if (current) await this.link.state.update(this.key, encode(record), current.revision);
      else await this.link.state.create(this.key, encode(record));
      return record;
    } catch (err) {
      if (isWrongSequence(err)) return undefined;
      throw err;
    }
  }
}

function baseRecord(task: TaskMessage): TaskRecord {
  return { v: PROTOCOL_VERSION, taskID: task.taskID, op: task.op, session: task.session, attempt: task.attempt, status: 'running' };
}

function lostRecord(task: TaskMessage, message: string, agent: string, claimed?: TaskRecord): TaskRecord {
  return { ...baseRecord(task), ...claimed, agent, status: 'failed', finished_at: new Date().toISOString(), error: { code: 'agent_lost', message, retryable: false } };
}

function asRecord(ending: Ending, task: TaskMessage): TaskRecord {
  return { ...baseRecord(task), ...ending, attempt: ending.attempt ?? task.attempt } as TaskRecord;
}

/** The operation's result (inline or from the object store), or its error as a CodingError. */
async function resultOf(link: NatsLink, ending: Ending, op: Op): Promise<unknown> {
  if (ending.status === 'done') {
    if (!ending.result_ref) return ending.result;
    const blob = await link.objects.getBlob(ending.result_ref.name);
    if (!blob) throw new CodingError(`the ${op} result ${ending.result_ref.bucket}/${ending.result_ref.name} is missing from the object store`, 'unavailable', true);
    return JSON.parse(new TextDecoder().decode(blob));
  }
  const error: ErrorInfo = ending.error ?? { code: ending.status, message: ending.status, retryable: false };
  throw new CodingError(error.message, errorKind(error.code), error.retryable);
}

const KINDS: readonly ErrorKind[] = ['invalid_input', 'not_found', 'auth', 'conflict', 'binary_missing', 'provider', 'timeout', 'cancelled', 'unavailable', 'git'];

function errorKind(code: string): ErrorKind {
  if ((KINDS as readonly string[]).includes(code)) return code as ErrorKind;
  if (['invalid_json', 'invalid_message', 'unsupported_version', 'too_large', 'not_routed'].includes(code)) return 'invalid_input';
  return 'unavailable'; // agent_lost and anything newer than this worker
}

function parseResult<S extends z.ZodType>(schema: S, value: unknown, op: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new CodingError(`the agent's ${op} result does not match the contract: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'unavailable');
  return parsed.data;
}

