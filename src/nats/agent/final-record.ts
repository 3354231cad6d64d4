// The agent's final write of a task record: compare-and-set against the record it claimed the task with. Meanwhile
// the Temporal worker may have decided the agent was lost (no heartbeat for agent_timeout_sec) and written an
// "agent lost" record, which the workflow has already reported; overwriting it would make the record and the
// session's history disagree. So the first final record wins, whoever wrote it.
import { retry } from '../../retry.js';
import { isWrongSequence, readTaskRecord } from '../connection.js';
import { encode, taskKey, type TaskRecord } from '../protocol.js';
import type { AgentContext } from './context.js';

/** The record that stands for the task, and whether it is someone else's (ours was not written). */
export interface FinalRecord {
  record: TaskRecord;
  superseded: boolean;
}

/** Write `record` if task.<id> is still at `claimRevision` (our claim); else keep and return what is there. */
export async function writeFinalRecord(ctx: AgentContext, record: TaskRecord, claimRevision: number): Promise<FinalRecord> {
  const key = taskKey(record.taskID);
  // Same waits as ever: 0.5 s, 1 s, 2 s, 4 s, then 5 s (NATS may be briefly unreachable).
  return retry(
    async () => {
      try {
        await ctx.link.state.update(key, encode(record), claimRevision);
        return { record, superseded: false };
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
      }
      const current = await readTaskRecord(ctx.link, record.taskID);
      if (!current) {
        // The record is gone (bucket purged): nobody else holds a final answer, so ours is written.
        await ctx.link.state.create(key, encode(record));
        return { record, superseded: false };
      }
      // An earlier try of this very write landed and only its acknowledgement was lost.
      const ours = current.record.incarnation === record.incarnation && current.record.finished_at === record.finished_at && current.record.status === record.status;
      return { record: current.record, superseded: !ours };
    },
    { attempts: 10, firstDelayMs: 500, maxDelayMs: 5000 },
  );
}
