// CopilotRunner against the REAL GitHub Copilot CLI (npm @github/copilot 1.0.102, pinned) with a provider of its
// own (BYOK, offline); the only fake is the model (test/support/fake-openai.ts on 127.0.0.1, the OpenAI
// chat-completions API). Each test gets its own git workspace; the state dir (and its unpacked CLI) is shared.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { CodingError } from '../src/core/errors.js';
import { CopilotRunner, type CopilotSettings } from '../src/runners/copilot/runner.js';
import { copilotHome } from '../src/runners/copilot/home.js';
import { copilotScript, startFakeOpenAI, type FakeOpenAI, type FakeScript } from './support/fake-openai.js';
import { pgrep, processCommands, waitFor } from './support/helpers.js';
import { recordingTask, runnerScratch, type RunnerScratch } from './support/runner-harness.js';

const BINARY = path.resolve(new URL('../..', import.meta.url).pathname, 'node_modules', '.bin', 'copilot');
const API_KEY = 'sk-copilot-SECRET-0123456789abcdef';
const MODEL = 'fake-copilot-model';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRICING = { [MODEL]: { input: 2, output: 6, cache_read: 0.5 } };

describe('CopilotRunner with the real copilot CLI', function () {
  this.timeout(120_000);
  let fake: FakeOpenAI;
  let scratch: RunnerScratch;

  before(async () => {
    assert.ok(existsSync(BINARY), `copilot binary missing at ${BINARY}`);
    fake = await startFakeOpenAI();
    scratch = runnerScratch('copilot-runner');
  });

  after(async () => {
    scratch?.close();
    await fake?.close();
  });

  function setup(script: FakeScript, overrides: Partial<CopilotSettings> = {}) {
    const workspace = scratch.workspace();
    const stateDir = path.join(scratch.root, 'state');
    fake.setScript(script);
    fake.requests.length = 0;
    const runner = new CopilotRunner({
      binary_path: BINARY,
      timeout_sec: 60,
      model: MODEL,
      env: { COPILOT_PROVIDER_BASE_URL: fake.url, COPILOT_PROVIDER_TYPE: 'openai', COPILOT_PROVIDER_API_KEY: API_KEY },
      state_dir: stateDir,
      pricing: PRICING,
      ...overrides,
    });
    return { workspace, stateDir, runner };
  }

  const makeTask = recordingTask;


  it('runs a create + bash + text task: file, tool calls, tokens from its event log, priced cost, the conversation id up front', async () => {
    const { workspace, stateDir, runner } = setup(copilotScript({ command: 'cat hello.txt; env', finalText: 'All done.' }));
    const reported: string[] = [];
    const { task, progress, usage } = makeTask(workspace, { onBackendSession: (id) => reported.push(id) });
    const out = await runner.run(task);

    assert.equal(out.success, true, out.error);
    assert.equal(out.summary, 'All done.');
    assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');
    assert.deepEqual(
      out.tool_calls.map((c) => c.tool),
      ['create', 'bash'],
    );
    const shell = out.tool_calls[1]!.output ?? '';
    const home = copilotHome(stateDir, task.session_id);
    assert.match(shell, new RegExp(`^HOME=${home}$`, 'm'), 'the session’s own HOME');
    assert.doesNotMatch(shell, /GITHUB_TOKEN|ghp_worker_secret/, 'nothing of the worker’s secrets');
    assert.ok(!shell.includes(API_KEY), 'its own provider key is stripped from its shell (--secret-env-vars)');
    // Three responses of 120 prompt tokens (20 of them cached) and 30 output tokens each: input counted without
    // the cached part, priced from coding.pricing.
    assert.deepEqual(out.tokens, { input: 300, output: 90, reasoning: 0, cache_read: 60, cache_write: 0 });
    assert.equal(out.cost_source, 'pricing');
    assert.ok(Math.abs(out.cost - (300 * 2 + 90 * 6 + 60 * 0.5) / 1e6) < 1e-12, `cost ${out.cost}`);
    assert.ok(usage.length >= 1 && usage.at(-1)!.cost > 0, 'spending streamed with its price');
    assert.match(out.backend_session_id ?? '', UUID);
    assert.deepEqual(reported, [out.backend_session_id], 'the conversation id is told before the run, once');
    assert.deepEqual(
      progress.filter((p) => p.kind === 'tool_call').map((p) => p.tool),
      ['create', 'bash'],
    );
    // The CLI's program is unpacked once, shared, outside the sessions' homes.
    assert.ok(readdirSync(path.join(stateDir, 'package-cache', 'pkg')).length > 0);
    assert.ok(!existsSync(path.join(home, '.cache', 'copilot')), 'not unpacked into the session’s HOME');
  });

  it('the next task continues the conversation, and counts only its own tokens', async () => {
    const { workspace, runner } = setup(copilotScript());
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
    const { workspace, runner } = setup(copilotScript());
    const missing = '0b6c2a9e-1f55-4c1e-9d7e-1a2b3c4d5e6f';
    await assert.rejects(runner.run(makeTask(workspace, { backend_session_id: missing }).task), (err: CodingError) => {
      assert.equal(err.kind, 'not_found');
      assert.match(err.message, new RegExp(missing));
      return true;
    });
  });

  it('cancels while a shell tool runs: the tool’s processes are killed, the tokens so far reported, and a retry resumes', async () => {
    const { workspace, runner } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { text: 'Sleeping.', tool: { name: 'bash', input: { command: 'sleep 289', description: 'wait' } } } : { text: 'done' },
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
      assert.match(err.message, /COPILOT_PROVIDER_API_KEY .*coding\.copilot\.env/);
      assert.ok(!err.message.includes(API_KEY), err.message);
      return true;
    });
  });

  it('a missing binary says how to install it', async () => {
    const { workspace, runner } = setup(copilotScript(), { binary_path: path.join(scratch.root, 'no-such-copilot') });
    await assert.rejects(runner.run(makeTask(workspace).task), (err: CodingError) => {
      assert.equal(err.kind, 'binary_missing');
      assert.match(err.message, /npm install -g @github\/copilot/);
      assert.match(err.message, /coding\.copilot\.binary_path/);
      return true;
    });
  });
});
