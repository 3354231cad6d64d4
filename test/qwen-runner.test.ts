// QwenRunner against the REAL Qwen Code CLI (npm @qwen-code/qwen-code 0.24.4, pinned); the only fake is the model
// (test/support/fake-openai.ts on 127.0.0.1, the OpenAI chat-completions API). Each test gets its own git
// workspace and state dir.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CodingError } from '../src/core/errors.js';
import { QwenRunner, type QwenSettings } from '../src/runners/qwen/runner.js';
import { qwenHome } from '../src/runners/qwen/home.js';
import { qwenScript, startFakeOpenAI, type FakeOpenAI, type FakeScript } from './support/fake-openai.js';
import { pgrep, processCommands, waitFor } from './support/helpers.js';
import { recordingTask, runnerScratch, type RunnerScratch } from './support/runner-harness.js';

const BINARY = path.resolve(new URL('../..', import.meta.url).pathname, 'node_modules', '.bin', 'qwen');
const API_KEY = 'sk-qwen-SECRET-0123456789abcdef';
const MODEL = 'fake-qwen-model';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRICING = { [MODEL]: { input: 2, output: 6, cache_read: 0.5 } };

describe('QwenRunner with the real qwen CLI', function () {
  this.timeout(120_000);
  let fake: FakeOpenAI;
  let scratch: RunnerScratch;

  before(async () => {
    assert.ok(existsSync(BINARY), `qwen binary missing at ${BINARY}`);
    fake = await startFakeOpenAI();
    scratch = runnerScratch('qwen-runner');
  });

  after(async () => {
    scratch?.close();
    await fake?.close();
  });

  function setup(script: FakeScript, overrides: Partial<QwenSettings> = {}) {
    const workspace = scratch.workspace();
    const stateDir = path.join(scratch.root, `state-${path.basename(workspace)}`);
    fake.setScript(script);
    fake.requests.length = 0;
    const runner = new QwenRunner({
      binary_path: BINARY,
      timeout_sec: 60,
      model: MODEL,
      env: { OPENAI_BASE_URL: fake.url, OPENAI_API_KEY: API_KEY },
      state_dir: stateDir,
      pricing: PRICING,
      ...overrides,
    });
    return { workspace, stateDir, runner };
  }

  const makeTask = recordingTask;


  it('runs a write_file + shell + text task: file, tool calls, tokens of this task only, priced cost, the conversation id up front', async () => {
    const { workspace, stateDir, runner } = setup(qwenScript({ command: 'cat hello.txt; env', finalText: 'All done.' }));
    const reported: string[] = [];
    const { task, progress, usage } = makeTask(workspace, { onBackendSession: (id) => reported.push(id) });
    const out = await runner.run(task);

    assert.equal(out.success, true, out.error);
    assert.equal(out.summary, 'All done.');
    assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');
    assert.deepEqual(
      out.tool_calls.map((c) => c.tool),
      ['write_file', 'run_shell_command'],
    );
    const shell = out.tool_calls[1]!.output ?? '';
    const home = qwenHome(path.join(stateDir), task.session_id);
    assert.match(shell, new RegExp(`^HOME=${home}$`, 'm'), 'the session’s own HOME');
    assert.doesNotMatch(shell, /GITHUB_TOKEN|ghp_worker_secret/, 'nothing of the worker’s secrets');
    // Three responses of 120 prompt tokens (20 of them cached) and 30 output tokens each: input counted without
    // the cached part, priced from coding.pricing.
    assert.equal(out.num_turns, 3);
    assert.deepEqual(out.tokens, { input: 300, output: 90, reasoning: 0, cache_read: 60, cache_write: 0 });
    assert.equal(out.cost_source, 'pricing');
    assert.ok(Math.abs(out.cost - (300 * 2 + 90 * 6 + 60 * 0.5) / 1e6) < 1e-12, `cost ${out.cost}`);
    assert.ok(usage.length >= 3 && usage.at(-1)!.cost > 0, 'spending streamed with its price');
    assert.match(out.backend_session_id ?? '', UUID);
    assert.deepEqual(reported, [out.backend_session_id], 'the conversation id is told before the run, once');
    assert.deepEqual(
      progress.filter((p) => p.kind === 'tool_call').map((p) => p.tool),
      ['write_file', 'run_shell_command'],
    );
    // Headless and contained: no background memory agent called the model after the task.
    assert.equal(fake.mainRequests().length, 3);
    const settings = JSON.parse(readFileSync(path.join(home, '.qwen', 'settings.json'), 'utf8'));
    assert.equal(settings.memory.enableManagedAutoMemory, false);
    assert.equal(settings.privacy.usageStatisticsEnabled, false);
  });

  it('the next task continues the conversation, and counts only its own tokens (the CLI’s result counts them all)', async () => {
    const { workspace, runner } = setup(qwenScript());
    const first = await runner.run(makeTask(workspace).task);
    assert.equal(first.success, true, first.error);
    const second = await runner.run(makeTask(workspace, { prompt: 'Now the second step.', backend_session_id: first.backend_session_id }).task);
    assert.equal(second.success, true, second.error);
    assert.equal(second.backend_session_id, first.backend_session_id);
    assert.deepEqual(second.tokens, first.tokens);
    const last = JSON.stringify(fake.mainRequests().at(-1)!.body.messages);
    assert.ok(last.includes('Create hello.txt and show it.') && last.includes('Now the second step.'), 'one conversation holds both tasks');
  });

  it('a conversation this worker does not have is not_found, naming it', async () => {
    const { workspace, runner } = setup(qwenScript());
    const missing = '0b6c2a9e-1f55-4c1e-9d7e-1a2b3c4d5e6f';
    await assert.rejects(runner.run(makeTask(workspace, { backend_session_id: missing }).task), (err: CodingError) => {
      assert.equal(err.kind, 'not_found');
      assert.match(err.message, new RegExp(missing));
      return true;
    });
  });

  it('cancels while a shell tool runs: the tool’s processes are killed, the tokens so far reported, and a retry resumes', async () => {
    const { workspace, runner } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { text: 'Sleeping.', tool: { name: 'run_shell_command', input: { command: 'sleep 289 # intentional-sleep: the test cancels here' } } } : { text: 'done' },
    );
    const controller = new AbortController();
    const { task, usage } = makeTask(workspace, { signal: controller.signal });
    const running = runner.run(task);
    await waitFor('the sleeping tool', () => processCommands(workspace).some((p) => p.cmd.includes('sleep 289')), 30_000);
    await waitFor('streamed usage', () => usage.some((u) => u.tokens.input > 0), 10_000);
    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    assert.ok(Date.now() - abortedAt < 5000, `took ${Date.now() - abortedAt} ms`);
    assert.equal(out.error, 'cancelled');
    assert.deepEqual(out.tokens, { input: 100, output: 30, reasoning: 0, cache_read: 20, cache_write: 0 });
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
    assert.deepEqual(pgrep('sleep 289'), []);

    fake.setScript(() => ({ text: 'Recovered.' }));
    const retry = await runner.run(makeTask(workspace).task);
    assert.equal(retry.success, true, retry.error);
    assert.equal(retry.backend_session_id, out.backend_session_id, 'the same task resumes its first attempt’s conversation');
  });

  it('a refused key is an auth error that names the setting, with the key cut out', async () => {
    const { workspace, runner } = setup(() => ({ status: 401, errorMessage: `invalid key ${API_KEY}` }));
    await assert.rejects(runner.run(makeTask(workspace).task), (err: CodingError) => {
      assert.equal(err.kind, 'auth');
      assert.match(err.message, /OPENAI_API_KEY \(coding\.qwen\.env/);
      assert.ok(!err.message.includes(API_KEY), err.message);
      return true;
    });
  });

  it('a missing binary says how to install it', async () => {
    const { workspace, runner } = setup(qwenScript(), { binary_path: path.join(scratch.root, 'no-such-qwen') });
    await assert.rejects(runner.run(makeTask(workspace).task), (err: CodingError) => {
      assert.equal(err.kind, 'binary_missing');
      assert.match(err.message, /npm install -g @qwen-code\/qwen-code/);
      assert.match(err.message, /coding\.qwen\.binary_path/);
      return true;
    });
  });
});
