// Checks and the fix loop with real parts: the real claude against the fake model, git, the agent sandbox. A task
// whose first answer fails a check gets the check's output back as its next round and ends with every check
// passed; a check finds none of the worker's secrets; the `check` update from the temporal CLI, the code update
// with fix_rounds from the Python SDK.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './support/root.js';
import { testPython } from './support/setup.js';
import { getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import type { FakeScript } from './support/fake-model.js';

const run = promisify(execFile);

/** The model writes result.txt: "bad" at first, "good" once a check's failure is given back to it. */
const fixingScript: FakeScript = ({ request, cwd, turnIndex }) => {
  const fixing = JSON.stringify(request?.messages ?? []).includes('The checks failed');
  if (turnIndex === 0) return { text: 'Writing the result.', tool: { name: 'Write', input: { file_path: join(cwd!, 'result.txt'), content: fixing ? 'good\n' : 'bad\n' } } };
  return { text: fixing ? 'Fixed.' : 'Done.' };
};

describe('checks and the fix loop', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  it('a failing check goes back to the agent, the next round fixes it; checks see no secret; check and code from foreign clients', async () => {
    const url = await w.git.createRepo('checks-loop');
    w.claude.setScript(fixingScript);
    const checks = [
      { name: 'result is good', run: 'grep -qx good result.txt || { echo "result.txt says: $(cat result.txt)"; exit 1; }' },
      // Looks everywhere a secret could be: the environment, the worker's HOME and config, /proc of its parent.
      { name: 'snoop', run: 'env; cat ~/.config/station/config.yaml /root/.config/station/config.yaml /proc/1/environ 2>&1; ls /root /tmp 2>&1; true' },
    ];
    const { session_id } = await w.client.open({ repo_url: url, checks, credentials: { token_env: GIT_TOKEN_ENV } });

    // The code update with fix_rounds, from the Python SDK.
    const { stdout } = await run(
      testPython(),
      [join(ROOT, 'test', 'clients', 'python_update.py'), JSON.stringify({ address: w.temporal.address, session_id, update: 'code', input: { instruction: 'Write the result', fix_rounds: 2 } })],
      { timeout: 180_000 },
    );
    const { result, status } = JSON.parse(stdout);
    assert.equal(result.success, true, result.error);
    assert.equal(result.fix_rounds, 1);
    assert.deepEqual(result.checks.map((c: { name: string; passed: boolean }) => [c.name, c.passed]), [['result is good', true], ['snoop', true]]);
    assert.equal(status.tasks_run, 1);
    assert.deepEqual(status.tasks[0].checks, { passed: 2, failed: 0 });
    const prompts = JSON.stringify(w.claude.mainRequests().at(-1)?.body);
    assert.ok(prompts.includes('result.txt says: bad'), 'the failing output went back to the agent');

    const snoop = result.checks[1].output_tail as string;
    assert.match(snoop, /PATH=/, 'the snooping check ran');
    for (const secret of [process.env[GIT_TOKEN_ENV]!, 'sk-ant-test-key', 'sk-codex-test-key']) assert.ok(!snoop.includes(secret), 'a check saw a secret');

    // The check update, from the temporal CLI.
    const { stdout: cliOut } = await run(w.temporal.cli, ['workflow', 'update', 'execute', '--address', w.temporal.address, '--workflow-id', session_id, '--name', 'check', '--input', JSON.stringify({ names: ['result is good'] }), '--output', 'json']);
    const checked = JSON.parse(cliOut).result;
    assert.deepEqual([checked.passed, checked.checks.length, checked.checks[0].exit_code], [true, 1, 0]);
    await w.client.close({ session_id });
  });
});
