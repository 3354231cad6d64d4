// The real claude CLI run by ClaudeCodeRunner inside bubblewrap (process/sandbox.ts): it works in its workspace,
// sees only its own processes, is killed with its whole tree on cancel (a tool in its own session too), and a
// missing binary is reported as without walls. The only fake is the model (fake-anthropic.ts on 127.0.0.1).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { AgentTask } from '../../src/core/runner.js';
import { CodingError } from '../../src/core/errors.js';
import { Sandbox } from '../../src/process/sandbox.js';
import { ClaudeCodeRunner } from '../../src/runners/claudecode/runner.js';
import { startFakeAnthropic, type FakeAnthropic, type FakeScript } from '../support/fake-anthropic.js';
import { pgrep, processesIn, waitFor } from '../support/helpers.js';

const BINARY = (() => {
  const require = createRequire(import.meta.url);
  return path.resolve(path.dirname(require.resolve('@anthropic-ai/claude-code/package.json')), 'bin/claude.exe');
})();

describe('ClaudeCodeRunner inside the sandbox', function () {
  this.timeout(120_000);
  let fake: FakeAnthropic;
  let root: string;
  let sandbox: Sandbox;
  let counter = 0;

  before(async () => {
    fake = await startFakeAnthropic();
    root = mkdtempSync(path.join(os.tmpdir(), 'sandbox-runner-'));
    sandbox = Sandbox.detect('bwrap', [os.homedir(), root, '/tmp', '/var/tmp']);
  });

  after(async () => {
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function setup(script: FakeScript, binary = BINARY) {
    const workspace = path.join(root, `ws-${++counter}`);
    execFileSync('git', ['init', '-q', workspace]);
    fake.setScript(script);
    const runner = new ClaudeCodeRunner({
      binary_path: binary,
      timeout_sec: 60,
      model: 'claude-sonnet-4-5',
      max_turns: 10,
      home: path.join(root, `home-${counter}`),
      env: { ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: 'sk-ant-sandbox-test' },
      sandbox,
    });
    const task = (signal = new AbortController().signal): AgentTask => ({
      session_id: `sandbox-${counter}`,
      workspace_path: workspace,
      prompt: 'Look around.',
      timeout_ms: 60_000,
      signal,
      progress: () => {},
    });
    return { workspace, runner, task };
  }

  it('writes in its workspace and sees only its own processes', async () => {
    const { workspace, runner, task } = setup(({ cwd, turnIndex }) => {
      if (turnIndex === 0) return { tool: { name: 'Write', input: { file_path: path.join(cwd!, 'inside.txt'), content: 'walled\n' } } };
      if (turnIndex === 1) {
        const command = `echo "processes: $(ls /proc | grep -cE '^[0-9]+$')"; cat /proc/${process.pid}/cmdline; ls ${root}; touch /etc/sandbox-probe; echo "home: $(ls -A ${os.homedir()} | wc -l)"`;
        return { tool: { name: 'Bash', input: { command } } };
      }
      return { text: 'done' };
    });
    const out = await runner.run(task());
    assert.equal(out.success, true, out.error);
    assert.equal(readFileSync(path.join(workspace, 'inside.txt'), 'utf8'), 'walled\n');
    const output = out.tool_calls.find((c) => c.tool === 'Bash')?.output ?? '';
    const processes = Number(/processes: (\d+)/.exec(output)?.[1]);
    assert.ok(processes > 0 && processes < 15, `the agent sees ${processes} processes: ${output}`);
    assert.match(output, new RegExp(`/proc/${process.pid}/cmdline: No such file`), output);
    assert.match(output, /Read-only file system/, 'the root filesystem is read-only');
    assert.ok(!existsSync('/etc/sandbox-probe'));
    // Of the hidden test root only its own workspace (and claude's HOME) are there.
    assert.match(output, new RegExp(`^home-${counter}\\nws-${counter}$`, 'm'), output);
    assert.match(output, /home: 0/, 'the worker’s HOME is empty inside');
  });

  it("sees only its own transcripts in claude's session store, and its conversation resumes on the next task", async () => {
    let projects = '';
    const { workspace, runner, task } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { tool: { name: 'Bash', input: { command: `ls -A ${projects}; cat ${projects}/-other-session/talk.jsonl 2>&1; true` } } } : { text: 'looked' },
    );
    projects = path.join(root, `home-${counter}`, '.claude', 'projects');
    mkdirSync(path.join(projects, '-other-session'), { recursive: true });
    writeFileSync(path.join(projects, '-other-session', 'talk.jsonl'), '{"secret":"another session talked here"}\n');

    const out = await runner.run(task());
    assert.equal(out.success, true, out.error);
    const output = out.tool_calls.find((c) => c.tool === 'Bash')?.output ?? '';
    const own = workspace.replace(/[^a-zA-Z0-9]/g, '-');
    assert.match(output, new RegExp(`^${own}$`, 'm'), output);
    assert.doesNotMatch(output, /other-session\n|another session talked/, output);
    assert.match(output, /No such file/, output);
    // On the host both are kept: the other session's transcript, and this one's, which the next task resumes.
    assert.ok(existsSync(path.join(projects, '-other-session', 'talk.jsonl')));
    assert.ok(existsSync(path.join(projects, own, `${out.backend_session_id}.jsonl`)), `no transcript for ${out.backend_session_id}`);
    fake.setScript(() => ({ text: 'again' }));
    const before = fake.mainRequests().length;
    const next = await runner.run({ ...task(), backend_session_id: out.backend_session_id, prompt: 'And now?' });
    assert.equal(next.success, true, next.error);
    const conversation = JSON.stringify(fake.mainRequests().slice(before)[0]!.body.messages);
    assert.ok(conversation.includes('Look around.') && conversation.includes('And now?'), conversation.slice(-1500));
  });

  it('cancel while a tool runs, one in its own session too: returns quickly and nothing is left', async () => {
    const { workspace, runner, task } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { tool: { name: 'Bash', input: { command: 'setsid sleep 297 & sleep 298; echo never' } } } : { text: 'done' },
    );
    const controller = new AbortController();
    const running = runner.run(task(controller.signal));
    await waitFor('both sleeping tools', () => pgrep('sleep 297').length > 0 && pgrep('sleep 298').length > 0, 30_000);
    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    assert.ok(Date.now() - abortedAt < 5000, `took ${Date.now() - abortedAt} ms`);
    assert.equal(out.error, 'cancelled');
    await waitFor('no process left', () => processesIn(workspace).length === 0, 5000);
    assert.deepEqual(pgrep('sleep 29[78]'), []);
  });

  it('a missing binary is binary_missing, as without walls', async () => {
    const { runner, task } = setup(() => ({ text: 'unused' }), path.join(root, 'no-such-claude'));
    const error = await runner.run(task()).then(
      () => assert.fail('expected binary_missing'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CodingError, String(error));
    assert.equal(error.kind, 'binary_missing');
    assert.match(error.message, /coding\.claudecode\.binary_path/);
  });
});

