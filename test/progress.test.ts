// Progress pushed as it happens, and none lost: a task whose last tool call comes just before it ends still
// shows every tool call of its result, once and in order, through the client's onProgress (what --tail and
// MCP progress use). Real Temporal, real git, real agent binaries; only the model is scripted.
import assert from 'node:assert/strict';
import { getWorld, type World } from './support/world.js';
import { LOCAL_BACKENDS } from './support/helpers.js';
import type { ProgressEvent } from '../src/contract.js';
import { replayedToolCalls } from '../src/client/progress-replay.js';

for (const backend of LOCAL_BACKENDS) {
  describe(`progress on ${backend.name}`, function () {
    let w: World;
    before(async () => {
      w = await getWorld();
    });

    it('shows every tool call of a task that ends right after its last one, once and in order', async () => {
      const url = await w.git.createRepo(`progress-${backend.name}`, { 'a.txt': 'a\n' });
      // The last tool call (a quick `true`) is followed at once by the final answer: its heartbeat may never be read.
      backend.script(w, { file: 'b.txt', content: 'b\n', command: 'true', finalText: 'Done.' });
      const { session_id } = await w.client.open({ repo_url: url, backend: backend.name });
      try {
        const progress: ProgressEvent[] = [];
        const result = await w.client.code({ session_id, instruction: 'Write b.txt and run true' }, (e) => progress.push(e));
        assert.equal(result.success, true, result.error);
        const called = result.trace.tool_calls.map((c) => c.tool);
        assert.deepEqual(called, [backend.writeTool, backend.bashTool]);
        const shown = progress.filter((e) => e.kind === 'tool_call').map((e) => e.tool);
        assert.deepEqual(shown, called, `progress: ${JSON.stringify(progress)}`);
        const last = progress.filter((e) => e.kind === 'tool_call').at(-1)!;
        assert.match(last.text, /true/);
      } finally {
        await w.client.close({ session_id });
      }
    });
  });
}

describe('replayed tool calls', function () {
  it('are the calls after the ones shown live, each with its result or error', function () {
    const calls = [
      { tool: 'Write', input: { file_path: '/ws/a.txt', content: 'a' }, output: 'ok' },
      { tool: 'Bash', input: { command: 'npm test' }, error: 'exit 1' },
      { tool: 'Read', input: { file_path: '/ws/b.txt' } },
    ];
    assert.deepEqual(replayedToolCalls(calls, 1), [
      { kind: 'tool_call', tool: 'Bash', text: 'Bash: npm test' },
      { kind: 'tool_result', tool: 'Bash', text: 'Bash failed: exit 1' },
      { kind: 'tool_call', tool: 'Read', text: 'Read: /ws/b.txt' },
    ]);
    assert.deepEqual(replayedToolCalls(calls, 3), []);
  });
});
