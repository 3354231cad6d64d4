// Replay safety: the recorded histories of representative sessions (full session, cancels, idle timeout,
// continue-as-new, failed open, invalid start, budget stop, workflow cancel) must replay on today's workflow code.
// A change that would break a running session (workflow-scope sessions live for days) fails here; make it behind
// `patched()` instead (CONTRIBUTING.md, "Changing the workflow safely"). Re-record with `npm run record-histories`.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { workflowBundle } from '../../src/host/workflow-bundle.js';
import { ROOT } from '../support/world.js';

const HISTORIES_DIR = join(ROOT, 'test', 'fixtures', 'histories');

describe('replay of recorded session histories', function () {
  it('every recorded history replays without a nondeterminism error', async () => {
    const files = readdirSync(HISTORIES_DIR).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 8, `expected the recorded histories in ${HISTORIES_DIR}, found ${files.length}`);
    const histories = files.map((f) => ({ workflowId: f.replace(/\.json$/, ''), history: proto.temporal.api.history.v1.History.fromObject(JSON.parse(readFileSync(join(HISTORIES_DIR, f), 'utf8'))) }));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message.split('\n')[0]}`);
    }
    assert.deepEqual(failures, []);
  });
});
