// A coding agent for `opencode-nats` (`station-coding nats-agent`): takes tasks from the JetStream work
// queue and does them with a local backend (claudecode, opencode or opencode-cli, from LocalBackendRegistry),
// on workspaces it holds. This file wires the parts together and runs each claimed task; see ../backend.ts for
// the Temporal side and ../protocol.ts for the messages.
//
// - intake.ts: new sessions come from the durable consumer every agent shares (each task goes to exactly one
//   agent, and only while it has a free slot); a session's later operations from its own consumer.
// - claims.ts: a task is claimed in the state bucket (create = exactly one claimer) before its message is
//   acked; its result is recorded there before it is published (replies.ts). A task whose record exists is
//   answered from the record, never run again (a retry after a retryable failure, a higher attempt, runs again).
// - execution.ts: the operation on the LocalBackend; artifacts.ts: diffs and large results in the object store.
// - liveness.ts: agent.<id> in the agents bucket (TTL); here, a heartbeat per running task on its progress subject.
// - recovery.ts: a restarted agent finds the tasks its previous process was running (running.<id>.*), kills
//   what they left running in their workspace and records them as "agent lost".
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import { maskUrlCredentials, type CodingConfig } from '../../config.js';
import type { ProgressSink } from '../../core/runner.js';
import { LocalBackendRegistry } from '../../host/registry.js';
import { LocalWorkspace } from '../../git/workspace.js';
import { truncate } from '../../text.js';
import { errorLine } from '../../text.js';
import { ensureConsumer, openLink } from '../connection.js';
import { CancelRequest, PROTOCOL_VERSION, TASK_HEARTBEAT_MS, decodeWith, encode, runningKey, type TaskMessage, type TaskRecord } from '../protocol.js';
import { inlineOrStore } from './artifacts.js';
import { writeFinalRecord } from './final-record.js';
import { claimTask, runningRecord, type Claim } from './claims.js';
import { AgentContext, type AgentLog } from './context.js';
import { Execution } from './execution.js';
import { Intake } from './intake.js';
import { Liveness } from './liveness.js';
import { recoverLostTasks } from './recovery.js';
import { Replies, safely } from './replies.js';
import { Semaphore } from '../../core/semaphore.js';

export type { AgentLog } from './context.js';

export interface NatsAgentOptions {
  config: CodingConfig;
  env?: NodeJS.ProcessEnv;
  log?: AgentLog;
}

interface Running {
  task: TaskMessage;
  abort: AbortController;
  cancelled: boolean;
}

export class NatsAgent {
  readonly id: string;
  readonly incarnation = randomUUID();
  /** Resolves when the agent has stopped (stop() or the connection closed for good). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;
  private readonly ctx: AgentContext;
  private readonly registry: LocalBackendRegistry;
  /** Only for where a new session's clone goes (a restarted agent looks there for leftovers). */
  private readonly workspace: LocalWorkspace;
  private readonly execution: Execution;
  private readonly replies: Replies;
  private readonly liveness: Liveness;
  private readonly slots: Semaphore;
  private readonly intake: Intake;
  private readonly active = new Map<string, Running>();
  private readonly loops: Promise<void>[] = [];
  private stopping = false;

  constructor(options: NatsAgentOptions) {
    const { config } = options;
    const env = options.env ?? process.env;
    this.id = config.nats.agent.id ?? (hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'agent');
    const write = options.log ?? ((fields) => process.stderr.write(`${JSON.stringify(fields)}\n`));
    this.ctx = new AgentContext(this.id, this.incarnation, config.nats, (fields) => write({ time: new Date().toISOString(), agent: this.id, ...fields }));
    // Its workspaces are its own: no worker re-creates them, so the config's checkpoint store is not for them.
    this.registry = new LocalBackendRegistry(config, env, { checkpoints: false });
    this.workspace = LocalWorkspace.fromConfig(config);
    this.execution = new Execution(this.ctx, config, this.registry, env);
    this.replies = new Replies(this.ctx);
    this.liveness = new Liveness(this.ctx, () => [...this.active.keys()], new Date().toISOString());
    this.slots = new Semaphore(config.nats.agent.concurrency);
    this.intake = new Intake(this.ctx, this.slots, this.replies, () => this.stopping, (msg, task) => this.take(msg, task));
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  async start(): Promise<void> {
    const { ctx } = this;
    const link = await openLink(ctx.settings, `station-coding agent ${this.id}`);
    ctx.connection = link;
    void link.nc.closed().then(() => {
      if (!this.stopping) ctx.log({ event: 'connection_closed' });
      this.markClosed();
    });
    const { names, jsm } = link;
    await this.liveness.claimIdentity();
    await ensureConsumer(jsm, names.stream, names.sharedConsumer, names.sharedSubject);
    await ensureConsumer(jsm, names.stream, names.agentConsumer(this.id), names.agentSubject(this.id));
    await this.liveness.start();
    await recoverLostTasks(ctx, this.replies);
    link.nc.subscribe(names.cancelWildcard, { callback: (err, msg) => void (err || this.onCancel(msg)) });
    this.loops.push(this.intake.loop('own'), this.intake.loop('shared'));
    ctx.log({
      event: 'started',
      incarnation: this.incarnation,
      backend: ctx.settings.agent.backend,
      concurrency: ctx.settings.agent.concurrency,
      nats: maskUrlCredentials(ctx.settings.url),
      subjects: [names.sharedSubject, names.agentSubject(this.id)],
      workspace_base_path: this.workspace.settings.base_path,
    });
  }

  /** Stop taking tasks, let running ones finish (up to graceMs, then abort them), and leave. */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.liveness.windDown();
    this.slots.wakeWatchers();
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) await sleep(200);
    for (const running of this.active.values()) running.abort.abort();
    while (this.active.size > 0 && Date.now() < deadline + 15_000) await sleep(200);
    await this.liveness.stop();
    await this.ctx.connection?.close().catch(() => {}); // ends the pulls the intake loops wait in
    await Promise.race([Promise.allSettled(this.loops), sleep(6000)]);
    await this.registry.shutdown();
    this.ctx.log({ event: 'stopped' });
    this.markClosed();
  }

  /** A task that holds a slot: claim it, then ack its message (a failed claim lets it come back), then run it. */
  private async take(msg: JsMsg, task: TaskMessage): Promise<void> {
    let claim: Claim;
    try {
      claim = await claimTask(this.ctx, this.replies, task);
    } catch (err) {
      this.ctx.log({ event: 'claim_failed', taskID: task.taskID, error: errorLine(err) });
      safely(() => msg.nak(1000));
      return;
    }
    safely(() => msg.ack());
    if (claim.kind === 'run') await this.run(task, claim.revision);
  }

  /** Run a claimed task: running marker, claimed / heartbeat / progress messages, then the record, then the reply. */
  private async run(task: TaskMessage, claimRevision: number): Promise<void> {
    const { ctx } = this;
    const { state, nc, names } = ctx.link;
    const started = Date.now();
    const running: Running = { task, abort: new AbortController(), cancelled: false };
    this.active.set(task.taskID, running);
    const marker = runningKey(this.id, task.taskID);
    let seq = 0;
    const send = (body: Record<string, unknown>) => {
      try {
        nc.publish(names.progress(task.taskID), encode({ v: PROTOCOL_VERSION, taskID: task.taskID, agent: this.id, incarnation: this.incarnation, ...body }));
      } catch {
        // disconnected: heartbeats resume on reconnect; the backend reads the record meanwhile
      }
    };
    const heartbeat = setInterval(() => send({ type: 'heartbeat' }), TASK_HEARTBEAT_MS);
    const progress: ProgressSink = (event) => send({ type: 'progress', seq: ++seq, event: { kind: event.kind, ...(event.tool ? { tool: event.tool } : {}), text: truncate(event.text, 500) } });
    ctx.log({ event: 'task_started', taskID: task.taskID, op: task.op, session: task.session, attempt: task.attempt });
    let record: TaskRecord;
    try {
      await state.put(marker, encode({ v: PROTOCOL_VERSION, taskID: task.taskID, incarnation: this.incarnation, workspace: this.workspaceOf(task) }));
      send({ type: 'claimed' });
      void this.liveness.beat();
      const { result, artifacts } = await this.execution.perform(task, running.abort.signal, progress);
      record = this.finished(task, started, { status: 'done', ...(await inlineOrStore(ctx, task, result)), ...(artifacts.length ? { artifacts } : {}) });
    } catch (err) {
      const error = this.execution.errorInfo(err, task);
      const status = running.cancelled && error.code === 'cancelled' ? 'cancelled' : 'failed';
      record = this.finished(task, started, { status, error });
    } finally {
      clearInterval(heartbeat);
      this.active.delete(task.taskID);
    }
    const written = await writeFinalRecord(ctx, record, claimRevision);
    if (written.superseded) {
      // The worker recorded the task lost meanwhile and the session reported that: the record and the reply say so too.
      ctx.log({ event: 'result_superseded', taskID: task.taskID, op: task.op, session: task.session, ours: record.status, standing: written.record.status, error: written.record.error?.message });
      record = written.record;
    }
    await state.delete(marker).catch(() => {});
    this.replies.result(record, task.callback);
    ctx.log({
      event: 'task_done',
      taskID: task.taskID,
      op: task.op,
      session: task.session,
      status: record.status,
      ms: record.duration_ms,
      ...(record.error ? { error: record.error.message } : {}),
      ...(task.op === 'open' && record.result ? { workspace: (record.result as { workspace_path?: string }).workspace_path } : {}),
    });
    void this.liveness.beat();
  }

  /** Where the task works (for a restarted agent to find its leftovers): the session's workspace, or a new clone's. */
  private workspaceOf(task: TaskMessage): string | undefined {
    if (task.op !== 'open') return task.workspace;
    return task.workspace ?? this.workspace.managedPath(task.session);
  }

  private finished(task: TaskMessage, started: number, ending: Partial<TaskRecord>): TaskRecord {
    return {
      ...runningRecord(this.ctx, task),
      claimed_at: new Date(started).toISOString(),
      finished_at: new Date().toISOString(),
      duration_ms: Date.now() - started,
      ...ending,
    } as TaskRecord;
  }

  private onCancel(msg: Msg): void {
    const request = decodeWith(CancelRequest, msg.data);
    const running = request ? this.active.get(request.taskID) : undefined;
    if (!request || !running) return; // not ours
    running.cancelled = true;
    running.abort.abort();
    this.ctx.log({ event: 'task_cancel_requested', taskID: request.taskID, op: running.task.op, session: running.task.session });
    if (msg.reply) safely(() => msg.respond(encode({ v: PROTOCOL_VERSION, type: 'cancel_ack', taskID: request.taskID, agent: this.id, found: true })));
  }
}
