// Claiming a task exactly once: the agent that creates task.<taskID> in the state bucket runs it (KV create /
// compare-and-set). A task whose record exists is answered from the record, never run again; only a later
// attempt after a retryable failure runs again.
import { isWrongSequence, readEntry, readTaskRecord } from '../connection.js';
import { AgentRecord, agentKey, answers, encode, lostRecord, taskKey, taskRecordOf, type TaskMessage, type TaskRecord } from '../protocol.js';
import type { AgentContext } from './context.js';
import type { Replies } from './replies.js';

/** run: this agent runs the task; answered: its record answered it; busy: someone (maybe we) is on it. */
export type Claim = { kind: 'run'; revision: number } | { kind: 'answered' } | { kind: 'busy' };

export async function claimTask(ctx: AgentContext, replies: Replies, task: TaskMessage): Promise<Claim> {
  const { state, agents } = ctx.link;
  for (let i = 0; i < 5; i++) {
    const current = await readTaskRecord(ctx.link, task.taskID);
    const claimRecord = runningRecord(ctx, task);
    try {
      if (!current) {
        return { kind: 'run', revision: await state.create(taskKey(task.taskID), encode(claimRecord)) };
      }
      const { record, revision } = current;
      if (record.status === 'running') {
        if (record.incarnation === ctx.incarnation) return { kind: 'busy' }; // a redelivery while we run it
        const owner = record.agent ? (await readEntry(agents, agentKey(record.agent), AgentRecord))?.value : undefined;
        if (owner && owner.incarnation === record.incarnation) return { kind: 'busy' }; // a live agent has it
        // Claimed by a process that is gone: it was interrupted. Never run twice: record it lost.
        const lost = lostRecord(record, `agent lost: coding agent ${record.agent} stopped while running this ${record.op} task; it did not finish`);
        await state.update(taskKey(task.taskID), encode(lost), revision);
        replies.result(lost, task.callback);
        return { kind: 'answered' };
      }
      if (answers(record, task.attempt)) {
        replies.result(record, task.callback);
        ctx.log({ event: 'answered_from_record', taskID: task.taskID, op: task.op, status: record.status });
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

/** The record of a task this agent is running (what a claim writes). */
export function runningRecord(ctx: AgentContext, task: TaskMessage): TaskRecord {
  return {
    ...taskRecordOf(task),
    agent: ctx.id,
    incarnation: ctx.incarnation,
    workspace: task.workspace,
    callback: task.callback,
    claimed_at: new Date().toISOString(),
  };
}
