// Intake: pulls tasks from the agent's own consumer (its sessions' operations) and the shared one (new
// sessions, only while a slot is free), checks each message (size, JSON, schema, routing), takes a task slot
// and hands the task on. A bad message gets an error reply and is acked; nothing in it can crash the agent.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsMsg } from '@nats-io/jetstream';
import { errorLine } from '../../text.js';
import { ensureConsumer } from '../connection.js';
import { decodeTask, type TaskMessage } from '../protocol.js';
import type { AgentContext } from './context.js';
import { safely, type Rejection, type Replies } from './replies.js';
import type { Release, Semaphore } from '../../core/semaphore.js';

export type Consumer = 'own' | 'shared';

export class Intake {
  constructor(
    private readonly ctx: AgentContext,
    private readonly slots: Semaphore,
    private readonly replies: Replies,
    private readonly stopping: () => boolean,
    /** Runs a task that holds a slot; the slot is released when it settles. */
    private readonly take: (msg: JsMsg, task: TaskMessage) => Promise<void>,
  ) {}

  /** Pulls from one consumer until the agent stops. */
  async loop(which: Consumer): Promise<void> {
    const { js, names } = this.ctx.link;
    const durable = which === 'own' ? names.agentConsumer(this.ctx.id) : names.sharedConsumer;
    while (!this.stopping()) {
      try {
        const consumer = await js.consumers.get(names.stream, durable);
        while (!this.stopping()) {
          // New sessions only while a slot is free, so an idle agent gets them instead of this one.
          if (which === 'shared') await this.slots.whenFree();
          if (this.stopping()) return;
          const msg = await consumer.next({ expires: which === 'own' ? 5000 : 2000 });
          if (msg) await this.admit(msg, which);
        }
      } catch (err) {
        if (this.stopping() || this.ctx.connection?.nc.isClosed()) return;
        this.ctx.log({ event: 'intake_error', consumer: durable, error: errorLine(err) });
        await sleep(1000);
        await ensureConsumer(this.ctx.link.jsm, names.stream, durable, which === 'own' ? names.agentSubject(this.ctx.id) : names.sharedSubject).catch(() => {});
      }
    }
  }

  /** Validate, route-check, take a slot, then run the task in the background. Never throws for a bad message. */
  private async admit(msg: JsMsg, via: Consumer): Promise<void> {
    const { id, settings, link } = this.ctx;
    const decoded = decodeTask(msg.data, settings.max_message_kb * 1024);
    if (!decoded.ok) return this.replies.reject(msg, decoded);
    const task = decoded.task;
    const { names } = link;
    if (via === 'shared' && task.op !== 'open') {
      return this.replies.reject(msg, misrouted(task, `a ${task.op} task must be sent to the subject of the agent holding the session (${names.sharedSubject}.<agent>), not to ${names.sharedSubject}`));
    }
    if (via === 'own' && (task.op === 'open' || task.agent !== id)) {
      return this.replies.reject(msg, misrouted(task, task.op === 'open' ? `open tasks go to ${names.sharedSubject}` : `task is for agent ${task.agent}, not ${id}`));
    }
    let release: Release | undefined;
    if (via === 'own') {
      // Only this agent can do it: wait for a slot, telling JetStream the message is being worked on.
      const keep = setInterval(() => safely(() => msg.working()), 10_000);
      try {
        release = await this.slots.acquire();
      } finally {
        clearInterval(keep);
      }
    } else {
      release = this.slots.tryAcquire();
      if (!release) {
        safely(() => msg.nak(250)); // busy after all: let another agent have it
        return;
      }
    }
    if (this.stopping()) {
      release();
      safely(() => msg.nak());
      return;
    }
    void this.take(msg, task)
      .catch((err) => this.ctx.log({ event: 'task_error', taskID: task.taskID, op: task.op, error: errorLine(err) }))
      .finally(release);
  }
}

function misrouted(task: TaskMessage, message: string): Rejection {
  return { ok: false, error: { code: 'not_routed', message, retryable: false }, taskID: task.taskID, callback: task.callback, session: task.session, op: task.op };
}
