// What an agent answers on NATS: a task's result (to its callback or the result subject) and the error reply
// to a rejected message. A reply never goes into the task stream, and a failed publish or ack never fails a task.
import type { JsMsg } from '@nats-io/jetstream';
import { errorLine } from '../../text.js';
import { PROTOCOL_VERSION, encode, type DecodedTask, type TaskRecord } from '../protocol.js';
import type { AgentContext } from './context.js';

/** A message the agent refuses, with what could be read of it to address the reply. */
export type Rejection = Extract<DecodedTask, { ok: false }>;

export class Replies {
  constructor(private readonly ctx: AgentContext) {}

  result(record: TaskRecord, callback: string | undefined): void {
    const message = {
      v: PROTOCOL_VERSION,
      type: 'result',
      taskID: record.taskID,
      op: record.op,
      session: record.session,
      agent: record.agent ?? this.ctx.id,
      status: record.status,
      attempt: record.attempt,
      ...(record.result !== undefined ? { result: record.result } : {}),
      ...(record.result_ref ? { result_ref: record.result_ref } : {}),
      ...(record.artifacts ? { artifacts: record.artifacts } : {}),
      ...(record.error ? { error: record.error } : {}),
      ...(record.duration_ms !== undefined ? { duration_ms: record.duration_ms } : {}),
    };
    try {
      this.ctx.link.nc.publish(this.subject(callback ?? record.callback, record.taskID), encode(message));
    } catch (err) {
      this.ctx.log({ event: 'reply_failed', taskID: record.taskID, error: errorLine(err) });
    }
  }

  /** The error reply (status `rejected`), then the ack: a bad message never comes back. */
  reject(msg: JsMsg, decoded: Rejection): void {
    const subject = this.subject(decoded.callback, decoded.taskID);
    const reply = {
      v: PROTOCOL_VERSION,
      type: 'result',
      ...(decoded.taskID ? { taskID: decoded.taskID } : {}),
      ...(decoded.op ? { op: decoded.op } : {}),
      ...(decoded.session ? { session: decoded.session } : {}),
      agent: this.ctx.id,
      status: 'rejected',
      error: decoded.error,
    };
    try {
      this.ctx.link.nc.publish(subject, encode(reply));
    } catch (err) {
      this.ctx.log({ event: 'reply_failed', error: errorLine(err) });
    }
    safely(() => msg.ack());
    this.ctx.log({ event: 'task_rejected', code: decoded.error.code, error: decoded.error.message.slice(0, 300), bytes: msg.data.length, subject: msg.subject, reply_to: subject, seq: msg.seq });
  }

  private subject(callback: string | undefined, taskID: string | undefined): string {
    const { names } = this.ctx.link;
    // Never into the task stream (a reply must not become a task) and never a $ subject (Subject refuses those).
    const safe = callback && callback !== names.sharedSubject && !callback.startsWith(`${names.sharedSubject}.`) ? callback : undefined;
    return safe ?? (taskID ? names.result(taskID) : names.rejected);
  }
}

/** Acks and replies on a connection that may be closing: a failure there is not the task's failure. */
export function safely(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // the message is redelivered after ack_wait, and the record answers it
  }
}
