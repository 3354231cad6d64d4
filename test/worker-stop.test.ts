// A command that hosts its own worker (`run` and every command on the embedded default, the MCP server) must not
// wait forever when that worker stops under it: the operation it waits for would never run. Real Temporal, git
// and claude; only the model is scripted.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { parseCodingConfig } from '../src/config.js';
import { connectCoding } from '../src/client/connect.js';
import { getWorld, type World } from './support/world.js';
import { processesIn, waitFor } from './support/helpers.js';
import { defaultScript } from './support/fake-anthropic.js';

describe('a command whose in-process worker stops', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  it('ends with the worker’s reason and how to continue, instead of waiting for the operation', async () => {
    const raw = structuredClone(w.rawConfig);
    raw.temporal = { ...raw.temporal, task_queue: `stop-${randomBytes(3).toString('hex')}`, worker_id: `stop-${randomBytes(3).toString('hex')}` };
    const connected = await connectCoding(parseCodingConfig(raw), { withWorker: true });
    w.claude.setScript(defaultScript({ file: 'long.txt', content: 'x\n', command: 'sleep 120', finalText: 'never' }));
    try {
      const url = await w.git.createRepo('worker-stop');
      const { session_id, workspace_path } = await connected.client.open({ repo_url: url });
      const waiting = Promise.race([connected.client.code({ session_id, instruction: 'write and sleep' }), connected.workerStopped]);
      waiting.catch(() => {});
      await waitFor('the task to run', () => processesIn(workspace_path).length > 0, 60_000);
      const stoppedAt = Date.now();
      void connected.worker!.shutdown().catch(() => {});
      await assert.rejects(waiting, (err: Error) => {
        assert.match(err.message, /the worker in this process stopped/);
        assert.match(err.message, /station-coding worker/);
        assert.match(err.message, /station-coding close <session_id>/);
        return true;
      });
      // The worker's shutdown grace (10 s) lets the running task stop first; nothing waits beyond it.
      assert.ok(Date.now() - stoppedAt < 30_000, `ended ${Date.now() - stoppedAt} ms after the worker stopped`);
      // The session stays for a worker to continue it; this test ends it.
      await w.client.client.workflow.getHandle(session_id).terminate('test over');
    } finally {
      w.claude.setScript(defaultScript());
      await connected.close().catch(() => {});
    }
  });
});
