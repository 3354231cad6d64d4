// One task's round trip, on the Temporal worker: publish it (unless an earlier attempt already did), follow
// its progress and its record until it ends, decide when its agent is lost, pass a cancel on, and turn the
// ending into the operation's result or error.
import type { Msg, Subscription } from '@nats-io/transport-node';
import type { ProgressSink } from '../../core/runner.js';
import { CodingError, type ErrorKind } from '../../core/errors.js';
import { errorLine } from '../../text.js';
import { isWrongSequence, readEntry, readTaskRecord, type NatsLink } from '../../nats/connection.js';
import {
  AgentRecord,
  PROTOCOL_VERSION,
  ProgressMessage,
  ResultMessage,
  TaskRecord,
  agentKey,
  answers,
  decodeWith,
  encode,
  lostRecord,
  taskKey,
  taskRecordOf,
  type ErrorInfo,
  type Op,
  type TaskMessage,
} from '../../nats/protocol.js';

const POLL_MS = 2000;
const TICK_MS = 250;
/** After a cancel, how long the agent has to stop the task and report. */
const CANCEL_WAIT_MS = 20_000;

/** How long the worker waits on agents: a silent agent (agent_timeout_sec), no agent at all for an open (open_wait_sec). */
export interface AgentWaits {
  agentTimeoutMs: number;
  openWaitMs: number;
}

/** What a task ended with: a task record (state KV) or a result message. */
type Ending = Pick<TaskRecord, 'status' | 'result' | 'result_ref' | 'error'> & { attempt?: number };

/**
 * Publish a task (unless an earlier attempt already did it or is doing it), wait for its ending and return the
 * operation's result; a failure is thrown as a CodingError. `agent` is the agent the task is routed to
 * (undefined for open: any agent); `bytes` is the task, encoded.
 */
export async function sendTask(
  link: NatsLink,
  waits: AgentWaits,
  task: TaskMessage,
  agent: string | undefined,
  bytes: Uint8Array,
  signal: AbortSignal,
  progress?: ProgressSink,
): Promise<unknown> {
  const ending = await new TaskWait(link, waits, task, agent, bytes, signal, progress).run();
  return resultOf(link, ending, task.op);
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
  /** Stream sequence of the published task: an open nobody can take is withdrawn from the queue. */
  private publishedSeq?: number;

  constructor(
    private readonly link: NatsLink,
    private readonly waits: AgentWaits,
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
      const ack = await js.publish(subject, this.bytes, { msgID: `${this.task.taskID}-${this.task.attempt}` });
      this.publishedSeq = ack.seq;
      this.published = true;
    } catch (err) {
      throw new CodingError(`cannot publish the ${this.task.op} task to ${subject}: ${errorLine(err)}`, 'unavailable', true);
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

  private read(): Promise<{ record: TaskRecord; revision: number } | undefined> {
    return readTaskRecord(this.link, this.task.taskID);
  }

  private async alive(agent: string): Promise<AgentRecord | undefined> {
    return (await readEntry(this.link.agents, agentKey(agent), AgentRecord))?.value;
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
      if (now - this.lastHeard <= this.waits.agentTimeoutMs) return undefined;
      const live = await this.alive(agent);
      if (live && live.incarnation === incarnation && live.running.includes(this.task.taskID)) {
        this.lastHeard = now; // its heartbeats do not reach us, but the agent says it is on the task
        return undefined;
      }
      const seconds = Math.round((now - this.lastHeard) / 1000);
      return this.settle(
        current,
        lostRecord(
          { ...taskRecordOf(this.task), ...current.record, agent },
          `agent lost: coding agent ${agent} stopped responding during the ${this.task.op} task ${this.task.taskID} of session ${this.task.session} ` +
            `(no heartbeat for ${seconds}s); the task did not finish, and the session's workspace is on that agent: restart it to continue the session`,
        ),
      );
    }
    if (!this.agent) return this.openWithoutAgent(now, current);
    const live = await this.alive(this.agent);
    if (live) {
      this.lastAlive = now;
      return undefined;
    }
    if (now - this.lastAlive <= this.waits.agentTimeoutMs) return undefined;
    const seconds = Math.round((now - this.lastAlive) / 1000);
    return this.settle(
      current,
      lostRecord(
        { ...taskRecordOf(this.task), agent: this.agent },
        `agent lost: coding agent ${this.agent}, which holds session ${this.task.session}, has not been alive for ${seconds}s; ` +
          `the ${this.task.op} task was not started: restart the agent to continue the session`,
      ),
    );
  }

  /**
   * An open waits for any agent while at least one is alive (all may be busy); with none alive for open_wait_sec
   * it fails at once, recorded (a late agent answers from the record, never clones) and withdrawn from the queue.
   */
  private async openWithoutAgent(now: number, current: { record: TaskRecord; revision: number } | undefined): Promise<Ending | undefined> {
    if (await this.anyAgentAlive()) {
      this.lastAlive = now;
      return undefined;
    }
    if (now - this.lastAlive <= this.waits.openWaitMs) return undefined;
    const subject = this.link.names.sharedSubject;
    const seconds = Math.round((now - this.lastAlive) / 1000);
    const ended = await this.settle(current, {
      ...taskRecordOf(this.task),
      status: 'failed',
      finished_at: new Date().toISOString(),
      error: {
        code: 'unavailable',
        message:
          `no coding agent alive on ${subject} for ${seconds}s (coding.nats.open_wait_sec): the open of session ${this.task.session} was withdrawn. ` +
          'Start one with `station-coding nats-agent` against the same NATS server and subjects, then open again.',
        retryable: false,
      },
    });
    if (ended && this.publishedSeq !== undefined) await this.link.jsm.streams.deleteMessage(this.link.names.stream, this.publishedSeq).catch(() => false);
    return ended;
  }

  private async anyAgentAlive(): Promise<boolean> {
    for await (const key of await this.link.agents.keys()) {
      if (await readEntry(this.link.agents, key, AgentRecord)) return true;
    }
    return false;
  }

  /** Cancel: record it if no agent has the task yet, else ask the agent and wait for its result. */
  private async cancel(now: number): Promise<Ending | undefined> {
    if (this.cancelAt === undefined) {
      this.cancelAt = now;
      const current = await this.read().catch(() => undefined);
      if (!current || current.record.status !== 'running') {
        const ended = await this.settle(current, {
          ...taskRecordOf(this.task),
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

function asRecord(ending: Ending, task: TaskMessage): TaskRecord {
  return { ...taskRecordOf(task), ...ending, attempt: ending.attempt ?? task.attempt } as TaskRecord;
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
