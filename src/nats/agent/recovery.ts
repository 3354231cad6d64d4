// Crash recovery: the tasks an earlier process of this agent was running when it died (running.<id>.* in the
// state bucket). What they left running in their workspace is killed and they are recorded lost, never re-run.
import { killProcessesIn } from '../../process/proc.js';
import { isWrongSequence, readEntry, readTaskRecord } from '../connection.js';
import { RunningMarker, encode, lostRecord, runningPrefix, taskKey } from '../protocol.js';
import type { AgentContext } from './context.js';
import type { Replies } from './replies.js';

export async function recoverLostTasks(ctx: AgentContext, replies: Replies): Promise<void> {
  const { link, id, incarnation } = ctx;
  const { state } = link;
  const keys: string[] = [];
  for await (const key of await state.keys(runningPrefix(id))) keys.push(key);
  for (const key of keys) {
    const marker = (await readEntry(state, key, RunningMarker))?.value;
    if (!marker || marker.incarnation === incarnation) continue;
    // Its children (the coding CLI and its tools) outlive a SIGKILL of the agent.
    const killed = killProcessesIn(marker.workspace);
    const current = await readTaskRecord(link, marker.taskID);
    let recorded = current?.record.error?.code === 'agent_lost' ? 'already recorded lost' : current?.record.status ?? 'no record';
    if (current && current.record.status === 'running' && current.record.incarnation !== incarnation) {
      const lost = lostRecord(
        current.record,
        `agent lost: coding agent ${id} was restarted while running this ${current.record.op} task; it did not finish (the workspace may hold partial changes)`,
      );
      try {
        await state.update(taskKey(marker.taskID), encode(lost), current.revision);
        replies.result(lost, lost.callback);
        recorded = 'recorded lost now';
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
      }
    }
    ctx.log({ event: 'recovered_lost_task', taskID: marker.taskID, op: current?.record.op, session: current?.record.session, killed_processes: killed, record: recorded });
    await state.delete(key).catch(() => {});
  }
}
