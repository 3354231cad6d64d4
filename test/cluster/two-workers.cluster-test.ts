// Two workers with different worker_ids serve one cluster (`npm run test:cluster`: this process's worker and a
// `station-coding worker` process). Sessions open on either, and every later operation of a session runs on the
// worker that opened it, read from the workflow histories the real server keeps.
import assert from 'node:assert/strict';
import { getWorld, type World } from '../support/world.js';

interface ActivityRun {
  type: string;
  queue: string;
  identity: string;
}

/** The activities of a session and who ran them; a local activity (queue "local") ran in the workflow task of `identity`. */
async function activityRuns(w: World, workflowId: string): Promise<ActivityRun[]> {
  const { history } = await w.connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
  const scheduled = new Map<string, { type: string; queue: string }>();
  const taskCompletedBy = new Map<string, string>();
  const runs: ActivityRun[] = [];
  for (const event of history?.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
    const started = event.activityTaskStartedEventAttributes;
    if (started) runs.push({ ...scheduled.get(String(started.scheduledEventId))!, identity: started.identity ?? '' });
    const completed = event.workflowTaskCompletedEventAttributes;
    if (completed) taskCompletedBy.set(String(event.eventId), completed.identity ?? '');
    const marker = event.markerRecordedEventAttributes;
    // A local activity that found the workspace elsewhere returned null (and the activity ran): not a run.
    const declined = Buffer.from(marker?.details?.result?.payloads?.[0]?.data ?? []).toString() === 'null';
    if (marker?.markerName === 'core_local_activity' && !declined) {
      const data = marker.details?.data?.payloads?.[0]?.data;
      const type = data ? (JSON.parse(Buffer.from(data).toString()) as { activity_type?: string }).activity_type : undefined;
      runs.push({ type: type ?? '?', queue: 'local', identity: taskCompletedBy.get(String(marker.workflowTaskCompletedEventId)) ?? '' });
    }
  }
  return runs;
}

describe('two workers on one cluster', function () {
  let w: World;
  before(async function () {
    const second = process.env.STATION_TEST_SECOND_WORKER_ID;
    if (!process.env.STATION_TEST_TEMPORAL_ADDRESS || !second) throw new Error('run through `npm run test:cluster`');
    w = await getWorld();
  });

  it('sessions open on both workers, and each operation runs on the worker holding the workspace', async function () {
    this.timeout(300_000);
    const second = process.env.STATION_TEST_SECOND_WORKER_ID!;
    const url = await w.git.createRepo('two-workers', { 'README.md': 'hello\n' });
    const holders = new Map<string, number>();
    const branchPaths = { local: 0, activity: 0 };
    for (let i = 0; i < 16 && holders.size < 2; i++) {
      const opened = await w.client.open({ repo_url: url, title: `two workers ${i}`, backend: 'claudecode' });
      const branch = await w.client.branch({ session_id: opened.session_id, branch: `feature/w${i}`, create: true });
      assert.equal(branch.created, true);
      await w.client.close({ session_id: opened.session_id });

      const runs = await activityRuns(w, opened.session_id);
      const open = runs.find((r) => r.type === 'openSession');
      // The branch ran either in a workflow task of the holder (a local activity) or as an activity on its queue.
      const branchRun = runs.find((r) => r.type === 'createBranch' || (r.type === 'createBranchHere' && r.queue === 'local'));
      const close = runs.find((r) => r.type === 'closeSession');
      assert.ok(open, 'openSession ran');
      assert.equal(open.queue, w.config.temporal.task_queue, 'a session opens on the shared queue');
      assert.ok(branchRun && close, `branch and close ran: ${JSON.stringify(runs)}`);
      const holderQueue = close.queue;
      assert.match(holderQueue, new RegExp(`^${w.config.temporal.task_queue}@(test-host|${second})$`));
      if (branchRun.queue !== 'local') assert.equal(branchRun.queue, holderQueue, "createBranch goes to the holder's queue");
      for (const run of [branchRun, close]) assert.equal(run.identity, open.identity, `${run.type} ran on the worker that opened the session`);
      branchPaths[branchRun.queue === 'local' ? 'local' : 'activity']++;
      holders.set(holderQueue, (holders.get(holderQueue) ?? 0) + 1);
    }
    console.error(`      sessions per worker queue: ${JSON.stringify(Object.fromEntries(holders))}; branches run as ${JSON.stringify(branchPaths)}`);
    assert.deepEqual([...holders.keys()].sort(), [`${w.config.temporal.task_queue}@${second}`, `${w.config.temporal.task_queue}@test-host`].sort(), `sessions per worker: ${JSON.stringify([...holders])}`);
  });
});
