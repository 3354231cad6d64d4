// The per-worker limit on code tasks running at once: a task beyond coding.max_concurrent_tasks waits for a free
// slot (started and heartbeating, so it is not taken for a lost worker), `status` shows it waiting, and it runs when
// the slot frees. Real Temporal, git and claude; only the model is scripted.
import assert from 'node:assert/strict';
import { getWorld, startVariantWorker, type World } from './support/world.js';
import { processesIn, waitFor } from './support/helpers.js';
import { defaultScript } from './support/fake-anthropic.js';
import type { SessionStatus } from '../src/contract.js';

describe('task slots', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  it('runs one task at a time with max_concurrent_tasks 1; the other waits, visible in status', async () => {
    const variant = await startVariantWorker(w, { max_concurrent_tasks: 1 });
    try {
      w.claude.setScript(defaultScript({ file: 'slot.txt', content: 'x\n', command: 'sleep 3', finalText: 'Done.' }));
      const url = await w.git.createRepo('slots', { 'a.txt': 'a\n' });
      const [a, b] = await Promise.all([variant.client.open({ repo_url: url }), variant.client.open({ repo_url: url })]);
      const tasks = [a, b].map((s) => variant.client.code({ session_id: s.session_id, instruction: 'write slot.txt and sleep' }));
      let waiting: { status: SessionStatus; workspace: string } | undefined;
      await waitFor(
        'a task waiting for a slot',
        async () => {
          for (const s of [a, b]) {
            const status = await variant.client.status(s.session_id);
            if (status.waiting_for_slot) waiting = { status, workspace: s.workspace_path };
          }
          return waiting !== undefined;
        },
        30_000,
      );
      assert.deepEqual(waiting!.status.waiting_for_slot, { ahead: 0, limit: 1 });
      assert.equal(waiting!.status.running_task?.task, 1);
      assert.deepEqual(processesIn(waiting!.workspace), [], 'the waiting task started no agent');
      const results = await Promise.all(tasks);
      for (const r of results) assert.equal(r.success, true, r.error);
      for (const s of [a, b]) {
        const status = await variant.client.status(s.session_id);
        assert.equal(status.waiting_for_slot, undefined);
        await variant.client.close({ session_id: s.session_id });
      }
    } finally {
      await variant.stop();
    }
  });
});
