// A coding agent for `opencode-nats` (`station-coding nats-agent`): takes tasks from the JetStream work
// queue and does them with a local backend (claudecode, opencode or opencode-cli, from LocalBackendRegistry),
// on workspaces it holds. See backend.ts for the Temporal side and protocol.ts for the messages.
//
// - New sessions come from the durable consumer every agent shares (each task goes to exactly one agent,
//   and only while the agent has a free slot); a session's later operations from this agent's own consumer.
// - A task is claimed in the state bucket (create = exactly one claimer) before its message is acked; its
//   result is recorded there before it is published. A task whose record exists is answered from the
//   record, never run again (a retry after a retryable failure, a higher attempt, runs again).
// - Liveness: agent.<id> in the agents bucket (TTL), and a heartbeat per running task on its progress subject.
// - A restarted agent finds the tasks its previous process was running (running.<id>.*), kills what they left
//   running in their workspace and records them as "agent lost".
// - Malformed, oversized or misrouted messages get an error reply and are acked; nothing a message holds can
//   crash the agent.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { JsMsg } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import { maskUrlCredentials, type CodingConfig } from '../config.js';
import type { CodingBackend, ProgressSink, SessionRef } from '../backends/backend.js';
import { CodingError } from '../backends/errors.js';
import { redact } from '../git/credentials.js';
import { baseChildEnv, killProcessesIn, truncate } from '../process/process.js';
import { LocalBackendRegistry } from '../backends/registry.js';
import { LocalWorkspace, type WorkspaceRef } from '../git/workspace.js';
import { errorLine } from '../text.js';
import { ensureConsumer, isWrongSequence, openLink, type NatsLink } from './connection.js';
import {
  AgentRecord,
  CancelRequest,
  INLINE_RESULT_BYTES,
  PROTOCOL_VERSION,
  RunningMarker,
  SessionRecord,
  TASK_HEARTBEAT_MS,
  TaskRecord,
  agentKey,
  answers,
  decodeTask,
  decodeWith,
  diffObject,
  encode,
  resultObject,
  runningKey,
  runningPrefix,
  sessionKey,
  taskKey,
  type Artifact,
  type DecodedTask,
  type ErrorInfo,
  type SessionTask,
  type TaskMessage,
} from './protocol.js';

const execFileAsync = promisify(execFile);

export type AgentLog = (fields: Record<string, unknown>) => void;

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

type Claim = { kind: 'run'; revision: number } | { kind: 'answered' } | { kind: 'busy' };

export class NatsAgent {
  readonly id: string;
  readonly incarnation = randomUUID();
  private link?: NatsLink;
  private readonly registry: LocalBackendRegistry;
  private readonly backend: CodingBackend;
  private readonly workspace: LocalWorkspace;
  private readonly slots: Slots;
  private readonly active = new Map<string, Running>();
  private readonly loops: Promise<void>[] = [];
  private readonly startedAt = new Date().toISOString();
  private stopping = false;
  private beatTimer?: NodeJS.Timeout;
  private readonly log: AgentLog;
  private readonly env: NodeJS.ProcessEnv;
  /** Resolves when the agent has stopped (stop() or the connection closed for good). */
  readonly closed: Promise<void>;
  private markClosed!: () => void;

  constructor(private readonly options: NatsAgentOptions) {
    const { config } = options;
    this.env = options.env ?? process.env;
    this.id = config.nats.agent.id ?? (hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 64) || 'agent');
    const write = options.log ?? ((fields) => process.stderr.write(`${JSON.stringify(fields)}\n`));
    this.log = (fields) => write({ time: new Date().toISOString(), agent: this.id, ...fields });
    this.registry = new LocalBackendRegistry(config, this.env);
    this.backend = this.registry.get(config.nats.agent.backend);
    this.workspace = new LocalWorkspace({
      base_path: config.workspace_base_path,
      clone_timeout_sec: config.clone_timeout_sec,
      push_timeout_sec: config.push_timeout_sec,
      user_name: config.git.user_name,
      user_email: config.git.user_email,
    });
    this.slots = new Slots(config.nats.agent.concurrency);
    this.closed = new Promise((resolve) => (this.markClosed = resolve));
  }

  private get nats() {
    return this.options.config.nats;
  }

  private get conn(): NatsLink {
    if (!this.link) throw new Error('agent not started');
    return this.link;
  }

  async start(): Promise<void> {
    const link = await openLink(this.nats, `station-coding agent ${this.id}`);
    this.link = link;
    void link.nc.closed().then(() => {
      if (!this.stopping) this.log({ event: 'connection_closed' });
      this.markClosed();
    });
    const { names, jsm } = link;
    await this.claimIdentity();
    await ensureConsumer(jsm, names.stream, names.sharedConsumer, names.sharedSubject);
    await ensureConsumer(jsm, names.stream, names.agentConsumer(this.id), names.agentSubject(this.id));
    await this.beat();
    this.beatTimer = setInterval(() => void this.beat(), Math.max(1000, (this.nats.agent_timeout_sec * 1000) / 4));
    await this.recover();
    link.nc.subscribe(names.cancelWildcard, { callback: (err, msg) => void (err || this.onCancel(msg)) });
    this.loops.push(this.loop('own'), this.loop('shared'));
    this.log({
      event: 'started',
      incarnation: this.incarnation,
      backend: this.nats.agent.backend,
      concurrency: this.nats.agent.concurrency,
      nats: maskUrlCredentials(this.nats.url),
      subjects: [names.sharedSubject, names.agentSubject(this.id)],
      workspace_base_path: this.options.config.workspace_base_path,
    });
  }

  /** Stop taking tasks, let running ones finish (up to graceMs, then abort them), and leave. */
  async stop(graceMs = 30_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.slots.wakeWatchers();
    const deadline = Date.now() + graceMs;
    while (this.active.size > 0 && Date.now() < deadline) await sleep(200);
    for (const running of this.active.values()) running.abort.abort();
    while (this.active.size > 0 && Date.now() < deadline + 15_000) await sleep(200);
    clearInterval(this.beatTimer);
    const link = this.link;
    if (link) {
      await link.agents.delete(agentKey(this.id)).catch(() => {});
      await link.close().catch(() => {}); // ends the pulls the intake loops wait in
    }
    await Promise.race([Promise.allSettled(this.loops), sleep(6000)]);
    await this.registry.shutdown();
    this.log({ event: 'stopped' });
    this.markClosed();
  }

  // ---- identity, liveness, recovery ---------------------------------------------------------------------

  /** Refuse to run twice under one id: a live process keeps refreshing agent.<id>; a dead one's key expires. */
  private async claimIdentity(): Promise<void> {
    const { agents } = this.conn;
    const first = await agents.get(agentKey(this.id));
    if (!first || first.operation !== 'PUT') return;
    const previous = decodeWith(AgentRecord, first.value);
    this.log({ event: 'waiting_for_previous_incarnation', previous: previous?.incarnation, seconds: this.nats.agent_timeout_sec });
    const deadline = Date.now() + this.nats.agent_timeout_sec * 1000 + 2000;
    while (Date.now() < deadline) {
      await sleep(500);
      const now = await agents.get(agentKey(this.id));
      if (!now || now.operation !== 'PUT') return;
      if (now.revision !== first.revision) {
        const other = decodeWith(AgentRecord, now.value);
        throw new CodingError(
          `agent id ${this.id} is in use by a running agent (host ${other?.host ?? '?'}, pid ${other?.pid ?? '?'}): give each agent its own coding.nats.agent.id`,
          'conflict',
        );
      }
    }
  }

  private async beat(): Promise<void> {
    if (!this.link || (this.stopping && this.active.size === 0)) return;
    const record: AgentRecord = {
      v: PROTOCOL_VERSION,
      agent: this.id,
      incarnation: this.incarnation,
      backend: this.nats.agent.backend,
      host: hostname(),
      pid: process.pid,
      concurrency: this.nats.agent.concurrency,
      running: [...this.active.keys()],
      started_at: this.startedAt,
      seen_at: new Date().toISOString(),
    };
    try {
      await this.link.agents.put(agentKey(this.id), encode(record));
    } catch (err) {
      this.log({ event: 'heartbeat_failed', error: errorLine(err) });
    }
  }

  /** Tasks an earlier process of this agent was running when it died: stop their leftovers, record them lost. */
  private async recover(): Promise<void> {
    const { state } = this.conn;
    const keys: string[] = [];
    for await (const key of await state.keys(runningPrefix(this.id))) keys.push(key);
    for (const key of keys) {
      const entry = await state.get(key);
      const marker = entry && entry.operation === 'PUT' ? decodeWith(RunningMarker, entry.value) : undefined;
      if (!marker || marker.incarnation === this.incarnation) continue;
      // Its children (the coding CLI and its tools) outlive a SIGKILL of the agent.
      const killed = killProcessesIn(marker.workspace);
      const current = await readRecord(this.conn, marker.taskID);
      let recorded = current?.record.error?.code === 'agent_lost' ? 'already recorded lost' : current?.record.status ?? 'no record';
      if (current && current.record.status === 'running' && current.record.incarnation !== this.incarnation) {
        const lost: TaskRecord = {
          ...current.record,
          status: 'failed',
          finished_at: new Date().toISOString(),
          error: {
            code: 'agent_lost',
            message: `agent lost: coding agent ${this.id} was restarted while running this ${current.record.op} task; it did not finish (the workspace may hold partial changes)`,
            retryable: false,
          },
        };
        try {
          await state.update(taskKey(marker.taskID), encode(lost), current.revision);
          this.publishResult(lost, lost.callback);
          recorded = 'recorded lost now';
        } catch (err) {
          if (!isWrongSequence(err)) throw err;
        }
      }
      this.log({ event: 'recovered_lost_task', taskID: marker.taskID, op: current?.record.op, session: current?.record.session, killed_processes: killed, record: recorded });
      await state.delete(key).catch(() => {});
    }
  }

  // ---- intake ---------------------------------------------------------------------------------------------

  private async loop(which: 'own' | 'shared'): Promise<void> {
    const { js, names } = this.conn;
    const durable = which === 'own' ? names.agentConsumer(this.id) : names.sharedConsumer;
    while (!this.stopping) {
      try {
        const consumer = await js.consumers.get(names.stream, durable);
        while (!this.stopping) {
          // New sessions only while a slot is free, so an idle agent gets them instead of this one.
          if (which === 'shared') await this.slots.whenFree();
          if (this.stopping) return;
          const msg = await consumer.next({ expires: which === 'own' ? 5000 : 2000 });
          if (msg) await this.admit(msg, which);
        }
      } catch (err) {
        if (this.stopping || this.link?.nc.isClosed()) return;
        this.log({ event: 'intake_error', consumer: durable, error: errorLine(err) });
        await sleep(1000);
        await ensureConsumer(this.conn.jsm, names.stream, durable, which === 'own' ? names.agentSubject(this.id) : names.sharedSubject).catch(() => {});
      }
    }
  }

  /** Validate, route-check, take a slot, then run the task in the background. Never throws for a bad message. */
  private async admit(msg: JsMsg, via: 'own' | 'shared'): Promise<void> {
    const decoded = decodeTask(msg.data, this.nats.max_message_kb * 1024);
    if (!decoded.ok) return this.reject(msg, decoded);
    const task = decoded.task;
    const { names } = this.conn;
    if (via === 'shared' && task.op !== 'open') {
      return this.reject(msg, misrouted(task, `a ${task.op} task must be sent to the subject of the agent holding the session (${names.sharedSubject}.<agent>), not to ${names.sharedSubject}`));
    }
    if (via === 'own' && (task.op === 'open' || task.agent !== this.id)) {
      return this.reject(msg, misrouted(task, task.op === 'open' ? `open tasks go to ${names.sharedSubject}` : `task is for agent ${task.agent}, not ${this.id}`));
    }
    if (via === 'own') {
      // Only this agent can do it: wait for a slot, telling JetStream the message is being worked on.
      const keep = setInterval(() => safely(() => msg.working()), 10_000);
      try {
        await this.slots.acquire();
      } finally {
        clearInterval(keep);
      }
    } else if (!this.slots.tryAcquire()) {
      safely(() => msg.nak(250)); // busy after all: let another agent have it
      return;
    }
    if (this.stopping) {
      this.slots.release();
      safely(() => msg.nak());
      return;
    }
    void this.process(msg, task)
      .catch((err) => this.log({ event: 'task_error', taskID: task.taskID, op: task.op, error: errorLine(err) }))
      .finally(() => this.slots.release());
  }

  private async process(msg: JsMsg, task: TaskMessage): Promise<void> {
    let claim: Claim;
    try {
      claim = await this.claim(task);
    } catch (err) {
      this.log({ event: 'claim_failed', taskID: task.taskID, error: errorLine(err) });
      safely(() => msg.nak(1000));
      return;
    }
    safely(() => msg.ack());
    if (claim.kind === 'run') await this.run(task);
  }

  /** Exactly one claimer per task (KV create / compare-and-set); a recorded task is answered from its record. */
  private async claim(task: TaskMessage): Promise<Claim> {
    const { state, agents } = this.conn;
    for (let i = 0; i < 5; i++) {
      const current = await readRecord(this.conn, task.taskID);
      const claimRecord = this.runningRecord(task);
      try {
        if (!current) {
          return { kind: 'run', revision: await state.create(taskKey(task.taskID), encode(claimRecord)) };
        }
        const { record, revision } = current;
        if (record.status === 'running') {
          if (record.incarnation === this.incarnation) return { kind: 'busy' }; // a redelivery while we run it
          const entry = record.agent ? await agents.get(agentKey(record.agent)) : null;
          const owner = entry && entry.operation === 'PUT' ? decodeWith(AgentRecord, entry.value) : undefined;
          if (owner && owner.incarnation === record.incarnation) return { kind: 'busy' }; // a live agent has it
          // Claimed by a process that is gone: it was interrupted. Never run twice: record it lost.
          const lost: TaskRecord = {
            ...record,
            status: 'failed',
            finished_at: new Date().toISOString(),
            error: { code: 'agent_lost', message: `agent lost: coding agent ${record.agent} stopped while running this ${record.op} task; it did not finish`, retryable: false },
          };
          await state.update(taskKey(task.taskID), encode(lost), revision);
          this.publishResult(lost, task.callback);
          return { kind: 'answered' };
        }
        if (answers(record, task.attempt)) {
          this.publishResult(record, task.callback);
          this.log({ event: 'answered_from_record', taskID: task.taskID, op: task.op, status: record.status });
          return { kind: 'answered' };
        }
        // A retryable failure of an earlier attempt, and this is a later attempt: run again.
        return { kind: 'run', revision: await state.update(taskKey(task.taskID), encode(claimRecord), revision) };
      } catch (err) {
        if (!isWrongSequence(err)) throw err; // someone else wrote the record meanwhile: read it again
      }
    }
    throw new Error(`could not claim task ${task.taskID}: its record keeps changing`);
  }

  private runningRecord(task: TaskMessage): TaskRecord {
    return {
      v: PROTOCOL_VERSION,
      taskID: task.taskID,
      op: task.op,
      session: task.session,
      attempt: task.attempt,
      status: 'running',
      agent: this.id,
      incarnation: this.incarnation,
      workspace: task.workspace,
      callback: task.callback,
      claimed_at: new Date().toISOString(),
    };
  }

  // ---- running a task -----------------------------------------------------------------------------------

  private async run(task: TaskMessage): Promise<void> {
    const { state, nc, names } = this.conn;
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
    this.log({ event: 'task_started', taskID: task.taskID, op: task.op, session: task.session, attempt: task.attempt });
    let record: TaskRecord;
    try {
      await state.put(marker, encode({ v: PROTOCOL_VERSION, taskID: task.taskID, incarnation: this.incarnation, workspace: this.workspaceOf(task) }));
      send({ type: 'claimed' });
      void this.beat();
      const { result, artifacts } = await this.perform(task, running.abort.signal, progress);
      record = await this.finished(task, started, { status: 'done', ...(await this.inline(task, result)), ...(artifacts.length ? { artifacts } : {}) });
    } catch (err) {
      const error = this.errorInfo(err, task);
      const status = running.cancelled && error.code === 'cancelled' ? 'cancelled' : 'failed';
      record = await this.finished(task, started, { status, error });
    } finally {
      clearInterval(heartbeat);
      this.active.delete(task.taskID);
    }
    await retrying(() => state.put(taskKey(task.taskID), encode(record)));
    await state.delete(marker).catch(() => {});
    this.publishResult(record, task.callback);
    this.log({
      event: 'task_done',
      taskID: task.taskID,
      op: task.op,
      session: task.session,
      status: record.status,
      ms: record.duration_ms,
      ...(record.error ? { error: record.error.message } : {}),
      ...(task.op === 'open' && record.result ? { workspace: (record.result as { workspace_path?: string }).workspace_path } : {}),
    });
    void this.beat();
  }

  /** Where the task works (for a restarted agent to find its leftovers): the session's workspace, or a new clone's. */
  private workspaceOf(task: TaskMessage): string | undefined {
    if (task.op !== 'open') return task.workspace;
    return task.workspace ?? this.workspace.managedPath(task.session);
  }

  private async finished(task: TaskMessage, started: number, ending: Partial<TaskRecord>): Promise<TaskRecord> {
    return {
      ...this.runningRecord(task),
      claimed_at: new Date(started).toISOString(),
      finished_at: new Date().toISOString(),
      duration_ms: Date.now() - started,
      ...ending,
    } as TaskRecord;
  }

  /** Small results travel inline; large ones go to the object store with a reference in the result. */
  private async inline(task: TaskMessage, result: unknown): Promise<Pick<TaskRecord, 'result' | 'result_ref'>> {
    const bytes = encode(result ?? null);
    if (bytes.length <= INLINE_RESULT_BYTES) return { result };
    const { objects, names } = this.conn;
    const info = await objects.putBlob({ name: resultObject(task.taskID) }, bytes);
    return { result_ref: { kind: 'result', bucket: names.buckets.objects, name: info.name, bytes: bytes.length, digest: info.digest } };
  }

  private async perform(task: TaskMessage, signal: AbortSignal, progress: ProgressSink): Promise<{ result: unknown; artifacts: Artifact[] }> {
    const local = this.nats.agent.backend;
    if (task.op === 'open') {
      if (task.workspace) this.assertInsideBase(task.workspace);
      const opened = await this.backend.open(
        {
          session_id: task.session,
          backend: local,
          repo_url: task.repo_url,
          branch: task.branch,
          workspace_path: task.workspace,
          title: task.title,
          token_env: this.tokenEnv(task),
        },
        signal,
      );
      const now = new Date().toISOString();
      const record: SessionRecord = {
        v: PROTOCOL_VERSION,
        session: task.session,
        agent: this.id,
        workspace: opened.workspace_path,
        managed: opened.managed,
        ...(opened.repo_url ?? task.repo_url ? { repo_url: opened.repo_url ?? task.repo_url } : {}),
        backend: local,
        opened_at: now,
        updated_at: now,
      };
      await this.conn.sessions.put(sessionKey(task.session), encode(record));
      return { result: opened, artifacts: [] };
    }
    const record = await this.sessionOf(task);
    const session: SessionRef = {
      session_id: task.session,
      backend: local,
      workspace_path: record.workspace,
      managed: record.managed,
      repo_url: record.repo_url,
      token_env: this.tokenEnv(task),
      backend_session_id: record.backend_session_id ?? (task.op === 'code' ? task.backend_session_id : undefined),
    };
    switch (task.op) {
      case 'code':
        return this.code(task, session, record, signal, progress);
      case 'branch':
        return { result: await this.backend.branch(session, { branch: task.branch, create: task.create }, signal), artifacts: [] };
      case 'commit':
        return { result: await this.backend.commit(session, { message: task.message, add_all: task.add_all }, signal), artifacts: [] };
      case 'push':
        return { result: await this.backend.push(session, { remote: task.remote, branch: task.branch, set_upstream: task.set_upstream }, signal), artifacts: [] };
      case 'close': {
        const closed = await this.backend.close({ session, delete_workspace: task.delete_workspace }, signal);
        await this.conn.sessions.delete(sessionKey(task.session));
        return { result: closed, artifacts: [] };
      }
    }
  }

  private async code(
    task: Extract<TaskMessage, { op: 'code' }>,
    session: SessionRef,
    record: SessionRecord,
    signal: AbortSignal,
    progress: ProgressSink,
  ): Promise<{ result: unknown; artifacts: Artifact[] }> {
    if (task.model !== undefined) {
      throw new CodingError(`model: a per-task model is not supported by protocol v${PROTOCOL_VERSION}; agent ${this.id} uses its configured model`, 'invalid_input');
    }
    const ref: WorkspaceRef = { session_id: session.session_id, workspace_path: session.workspace_path, managed: session.managed };
    await this.workspace.assertExists(ref);
    const before = await this.workspace.snapshot(ref, signal);
    const timeout = task.timeout ? AbortSignal.timeout(task.timeout * 1000) : undefined;
    let outcome = await this.backend.code(
      { instruction: task.prompt, context: task.context, files: task.files, session, title: task.title, budget: task.budget },
      progress,
      timeout ? AbortSignal.any([signal, timeout]) : signal,
    );
    if (timeout?.aborted && !signal.aborted && outcome.error === 'cancelled') {
      outcome = { ...outcome, success: false, error: `timed out after ${task.timeout}s (the session's task timeout)` };
    }
    const after = await this.workspace.snapshot(ref, AbortSignal.timeout(60_000));
    const artifacts = await this.storeDiff(task, session.workspace_path, before, after);
    if (outcome.backend_session_id && outcome.backend_session_id !== record.backend_session_id) {
      const updated: SessionRecord = { ...record, backend_session_id: outcome.backend_session_id, updated_at: new Date().toISOString() };
      await this.conn.sessions.put(sessionKey(task.session), encode(updated));
    }
    return { result: outcome, artifacts };
  }

  /** The full diff of a code task goes to the object store; the result names it. */
  private async storeDiff(task: TaskMessage, cwd: string, before: string, after: string): Promise<Artifact[]> {
    if (before === after) return [];
    try {
      const { stdout } = await execFileAsync('git', ['diff', '--binary', '--no-color', '--no-ext-diff', before, after], {
        cwd,
        env: baseChildEnv({ HOME: process.env.HOME, GIT_TERMINAL_PROMPT: '0' }),
        maxBuffer: 256 * 1024 * 1024,
        encoding: 'buffer',
      });
      const { objects, names } = this.conn;
      const info = await objects.putBlob({ name: diffObject(task.taskID), description: `diff of ${task.op} task ${task.taskID} of session ${task.session}` }, stdout);
      return [{ kind: 'diff', bucket: names.buckets.objects, name: info.name, bytes: stdout.length, digest: info.digest }];
    } catch (err) {
      this.log({ event: 'diff_not_stored', taskID: task.taskID, error: errorLine(err) });
      return [];
    }
  }

  private async sessionOf(task: SessionTask): Promise<SessionRecord> {
    const { sessions, names } = this.conn;
    const entry = await sessions.get(sessionKey(task.session));
    const record = entry && entry.operation === 'PUT' ? decodeWith(SessionRecord, entry.value) : undefined;
    if (!record) throw new CodingError(`session ${task.session} is not open on agent ${this.id} (no record in the ${names.buckets.sessions} bucket)`, 'not_found');
    if (record.agent !== this.id) throw new CodingError(`session ${task.session} is held by agent ${record.agent}, not ${this.id}`, 'conflict');
    if (record.workspace !== task.workspace) {
      throw new CodingError(`workspace ${task.workspace} is not the workspace of session ${task.session} on agent ${this.id}`, 'invalid_input');
    }
    return record;
  }

  /** A task may name only the configured token variables, so a message cannot send another secret to a git host. */
  private tokenEnv(task: TaskMessage): string | undefined {
    const name = task.token_env;
    if (!name) return undefined;
    const allowed = new Set([...this.nats.agent.allowed_token_envs, ...(this.options.config.git.token_env ? [this.options.config.git.token_env] : [])]);
    if (!allowed.has(name)) {
      throw new CodingError(`credentials.token_env: ${name} is not allowed on agent ${this.id} (add it to coding.nats.agent.allowed_token_envs)`, 'invalid_input');
    }
    if (this.env[name] === undefined) throw new CodingError(`credentials.token_env: ${name} is not set in the environment of agent ${this.id}`, 'invalid_input');
    return name;
  }

  private assertInsideBase(path: string): void {
    const base = resolve(this.options.config.workspace_base_path);
    const full = resolve(path);
    if (full !== base && !full.startsWith(base + sep)) {
      throw new CodingError(`workspace_path ${path} is outside this agent's workspace_base_path (${base})`, 'invalid_input');
    }
  }

  private errorInfo(err: unknown, task: TaskMessage): ErrorInfo {
    const token = (() => {
      try {
        return this.registry.tokenFor(task.token_env && this.env[task.token_env] !== undefined ? task.token_env : undefined);
      } catch {
        return undefined;
      }
    })();
    if (err instanceof CodingError) return { code: err.kind, message: redact(err.message, token).slice(0, 4000), retryable: err.retryable };
    const message = redact(errorLine(err), token).slice(0, 4000);
    return { code: 'unavailable', message, retryable: true };
  }

  // ---- replies ------------------------------------------------------------------------------------------

  private replySubject(callback: string | undefined, taskID: string | undefined): string {
    const { names } = this.conn;
    // Never into the task stream (a reply must not become a task) and never a $ subject (Subject refuses those).
    const safe = callback && callback !== names.sharedSubject && !callback.startsWith(`${names.sharedSubject}.`) ? callback : undefined;
    return safe ?? (taskID ? names.result(taskID) : names.rejected);
  }

  private publishResult(record: TaskRecord, callback: string | undefined): void {
    const message = {
      v: PROTOCOL_VERSION,
      type: 'result',
      taskID: record.taskID,
      op: record.op,
      session: record.session,
      agent: record.agent ?? this.id,
      status: record.status,
      attempt: record.attempt,
      ...(record.result !== undefined ? { result: record.result } : {}),
      ...(record.result_ref ? { result_ref: record.result_ref } : {}),
      ...(record.artifacts ? { artifacts: record.artifacts } : {}),
      ...(record.error ? { error: record.error } : {}),
      ...(record.duration_ms !== undefined ? { duration_ms: record.duration_ms } : {}),
    };
    try {
      this.conn.nc.publish(this.replySubject(callback ?? record.callback, record.taskID), encode(message));
    } catch (err) {
      this.log({ event: 'reply_failed', taskID: record.taskID, error: errorLine(err) });
    }
  }

  private reject(msg: JsMsg, decoded: Extract<DecodedTask, { ok: false }>): void {
    const subject = this.replySubject(decoded.callback, decoded.taskID);
    const reply = {
      v: PROTOCOL_VERSION,
      type: 'result',
      ...(decoded.taskID ? { taskID: decoded.taskID } : {}),
      ...(decoded.op ? { op: decoded.op } : {}),
      ...(decoded.session ? { session: decoded.session } : {}),
      agent: this.id,
      status: 'rejected',
      error: decoded.error,
    };
    try {
      this.conn.nc.publish(subject, encode(reply));
    } catch (err) {
      this.log({ event: 'reply_failed', error: errorLine(err) });
    }
    safely(() => msg.ack()); // a bad message never comes back
    this.log({ event: 'task_rejected', code: decoded.error.code, error: decoded.error.message.slice(0, 300), bytes: msg.data.length, subject: msg.subject, reply_to: subject, seq: msg.seq });
  }

  private onCancel(msg: Msg): void {
    const request = decodeWith(CancelRequest, msg.data);
    const running = request ? this.active.get(request.taskID) : undefined;
    if (!request || !running) return; // not ours
    running.cancelled = true;
    running.abort.abort();
    this.log({ event: 'task_cancel_requested', taskID: request.taskID, op: running.task.op, session: running.task.session });
    if (msg.reply) safely(() => msg.respond(encode({ v: PROTOCOL_VERSION, type: 'cancel_ack', taskID: request.taskID, agent: this.id, found: true })));
  }
}

function misrouted(task: TaskMessage, message: string): Extract<DecodedTask, { ok: false }> {
  return { ok: false, error: { code: 'not_routed', message, retryable: false }, taskID: task.taskID, callback: task.callback, session: task.session, op: task.op };
}

async function readRecord(link: NatsLink, taskID: string): Promise<{ record: TaskRecord; revision: number } | undefined> {
  const entry = await link.state.get(taskKey(taskID));
  if (!entry || entry.operation !== 'PUT') return undefined;
  const record = decodeWith(TaskRecord, entry.value);
  return record ? { record, revision: entry.revision } : undefined;
}

async function retrying<T>(fn: () => Promise<T>, attempts = 10): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(Math.min(5000, 250 * 2 ** i));
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Acks and replies on a connection that may be closing: a failure there is not the task's failure. */
function safely(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // the message is redelivered after ack_wait, and the record answers it
  }
}

/** Task slots: acquire() waits its turn (session operations), whenFree() only looks (new sessions). */
class Slots {
  private free: number;
  private readonly acquirers: Array<() => void> = [];
  private watchers: Array<() => void> = [];

  constructor(size: number) {
    this.free = size;
  }

  tryAcquire(): boolean {
    if (this.free <= 0) return false;
    this.free--;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.acquirers.push(resolve));
  }

  release(): void {
    const next = this.acquirers.shift();
    if (next) return next();
    this.free++;
    this.wakeWatchers();
  }

  whenFree(): Promise<void> {
    if (this.free > 0) return Promise.resolve();
    return new Promise((resolve) => this.watchers.push(resolve));
  }

  wakeWatchers(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const w of watchers) w();
  }
}
