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

async function activityRuns(w: World, workflowId: string): Promise<ActivityRun[]> {
  const { history } = await w.connection.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId } });
  const scheduled = new Map<string, { type: string; queue: string }>();
  const runs: ActivityRun[] = [];
  for (const event of history?.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), { type: s.activityType?.name ?? '', queue: s.taskQueue?.name ?? '' });
    const started = event.activityTaskStartedEventAttributes;
    if (started) runs.push({ ...scheduled.get(String(started.scheduledEventId))!, identity: started.identity ?? '' });
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
    for (let i = 0; i < 16 && holders.size < 2; i++) {
      const opened = await w.client.open({ repo_url: url, title: `two workers ${i}`, backend: 'claudecode' });
      const branch = await w.client.branch({ session_id: opened.session_id, branch: `feature/w${i}`, create: true });
      assert.equal(branch.created, true);
      await w.client.close({ session_id: opened.session_id });

      const runs = await activityRuns(w, opened.session_id);
      const open = runs.find((r) => r.type === 'openSession');
      const later = runs.filter((r) => ['createBranch', 'closeSession'].includes(r.type));
      assert.ok(open, 'openSession ran');
      assert.equal(open.queue, w.config.temporal.task_queue, 'a session opens on the shared queue');
      assert.equal(later.length, 2);
      const holderQueue = later[0]!.queue;
      assert.match(holderQueue, new RegExp(`^${w.config.temporal.task_queue}@(test-host|${second})$`));
      for (const run of later) {
        assert.equal(run.queue, holderQueue, `${run.type} goes to the holder's queue`);
        assert.equal(run.identity, open.identity, `${run.type} ran on the worker that opened the session`);
      }
      holders.set(holderQueue, (holders.get(holderQueue) ?? 0) + 1);
    }
    console.error(`      sessions per worker queue: ${JSON.stringify(Object.fromEntries(holders))}`);
    assert.deepEqual([...holders.keys()].sort(), [`${w.config.temporal.task_queue}@${second}`, `${w.config.temporal.task_queue}@test-host`].sort(), `sessions per worker: ${JSON.stringify([...holders])}`);
  });
});
