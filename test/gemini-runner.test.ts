// GeminiRunner against the REAL Gemini CLI (npm @google/gemini-cli 0.61.0, pinned); the only fake is the model
// (test/support/fake-gemini.ts on 127.0.0.1). Each test gets its own git workspace and state dir.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentTask } from '../src/core/runner.js';
import { CodingError } from '../src/core/errors.js';
import type { Tokens } from '../src/contract.js';
import { Sandbox } from '../src/process/sandbox.js';
import { GeminiRunner, geminiHome, type GeminiSettings } from '../src/runners/gemini/runner.js';
import { defaultScript, FAKE_GEMINI_MODEL, functionResponses, startFakeGemini, userTexts, type FakeGemini, type FakeScript } from './support/fake-gemini.js';
import { pgrep, processCommands, waitFor } from './support/helpers.js';
import { recordingTask } from './support/runner-harness.js';

const BINARY = path.resolve(new URL('../..', import.meta.url).pathname, 'node_modules', '.bin', 'gemini');
const API_KEY = 'gemini-test-SECRET-4242';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRICING = { [FAKE_GEMINI_MODEL]: { input: 1.25, output: 10, cache_read: 0.31 } };

describe('GeminiRunner with the real gemini CLI', function () {
  this.timeout(120_000);
  let fake: FakeGemini;
  let root: string;
  let counter = 0;
  const savedGithubToken = process.env.GITHUB_TOKEN;

  before(async () => {
    assert.ok(existsSync(BINARY), `gemini binary missing at ${BINARY}`);
    fake = await startFakeGemini();
    root = mkdtempSync(path.join(os.tmpdir(), 'gemini-runner-'));
    process.env.GITHUB_TOKEN = 'ghp_worker_secret_do_not_leak';
  });

  after(async () => {
    if (savedGithubToken === undefined) delete process.env.GITHUB_TOKEN;
    else process.env.GITHUB_TOKEN = savedGithubToken;
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function setup(script: FakeScript, overrides: Partial<GeminiSettings> = {}) {
    counter++;
    const workspace = path.join(root, `ws-${counter}`);
    const stateDir = path.join(root, `state-${counter}`);
    execFileSync('git', ['init', '-q', workspace]);
    fake.setScript(script);
    fake.requests.length = 0;
    const runner = new GeminiRunner({
      binary_path: BINARY,
      timeout_sec: 60,
      model: FAKE_GEMINI_MODEL,
      env: { GEMINI_API_KEY: API_KEY, GOOGLE_GEMINI_BASE_URL: fake.url },
      state_dir: stateDir,
      pricing: PRICING,
      ...overrides,
    });
    return { workspace, stateDir, runner };
  }

  /** The harness's recording task, with its token counts as they came. */
  function makeTask(workspace: string, opts: Partial<AgentTask> = {}) {
    const usage: Tokens[] = [];
    const { task, progress } = recordingTask(workspace, { usage: (tokens) => usage.push(tokens), ...opts });
    return { task, progress, usage };
  }

  it('runs a write_file + shell + text task: file written, tool calls with outputs, tokens, priced cost, session id', async () => {
    const { workspace, stateDir, runner } = setup(defaultScript({ command: 'cat hello.txt; env', finalText: 'All done.' }));
    const reported: string[] = [];
    const { task, progress } = makeTask(workspace, { onBackendSession: (id) => reported.push(id) });
    const out = await runner.run(task);

    assert.equal(out.success, true, out.error);
    assert.equal(out.summary, 'All done.');
    assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');
    assert.deepEqual(
      out.tool_calls.map((c) => c.tool),
      ['write_file', 'run_shell_command'],
    );
    const [write, shell] = out.tool_calls;
    assert.deepEqual(write!.input, { file_path: path.join(workspace, 'hello.txt'), content: 'hello from the fake model\n' });
    assert.equal(write!.error, undefined);
    assert.match(shell!.output ?? '', /^hello from the fake model/);
    // The child environment: the session's own HOME, nothing of the worker's secrets.
    const home = geminiHome(stateDir, task.session_id);
    assert.match(shell!.output ?? '', new RegExp(`^HOME=${home}$`, 'm'));
    assert.doesNotMatch(shell!.output ?? '', /GITHUB_TOKEN|ghp_worker_secret/);

    // Three responses of 120 prompt tokens (20 of them cached) and 30 output tokens each, priced from coding.pricing.
    assert.equal(out.num_turns, 3);
    assert.deepEqual(out.tokens, { input: 300, output: 90, reasoning: 0, cache_read: 60, cache_write: 0 });
    assert.equal(out.cost_source, 'pricing');
    assert.ok(Math.abs(out.cost - (300 * 1.25 + 90 * 10 + 60 * 0.31) / 1e6) < 1e-12, `cost ${out.cost}`);
    assert.match(out.backend_session_id ?? '', UUID);
    assert.deepEqual(reported, [out.backend_session_id], 'the conversation id is told before the run, once');

    const calls = progress.filter((p) => p.kind === 'tool_call');
    assert.deepEqual(
      calls.map((p) => p.tool),
      ['write_file', 'run_shell_command'],
    );
    assert.equal(calls[0]!.text, `write_file: ${path.join(workspace, 'hello.txt')}`);
    assert.equal(progress.filter((p) => p.kind === 'tool_result').length, 2);
    assert.ok(progress.some((p) => p.kind === 'text' && p.text === 'All done.'));

    const main = fake.mainRequests();
    assert.equal(main.length, 3);
    assert.equal(main[0]!.headers['x-goog-api-key'], API_KEY);
    assert.match(main[0]!.path, new RegExp(`/v1beta/models/${FAKE_GEMINI_MODEL}:streamGenerateContent\\?alt=sse`));
    // Its settings and its conversation are in the session's HOME.
    const settings = JSON.parse(readFileSync(path.join(home, '.gemini', 'settings.json'), 'utf8'));
    assert.equal(settings.security.auth.selectedType, 'gemini-api-key');
    const chats = readdirSync(path.join(home, '.gemini', 'tmp')).flatMap((p) => readdirSync(path.join(home, '.gemini', 'tmp', p, 'chats')));
    assert.ok(chats.some((f) => f.endsWith(`-${out.backend_session_id!.slice(0, 8)}.jsonl`)), chats.join(', '));
  });

  it('a model with no price: cost 0, cost_source unpriced', async () => {
    const { workspace, runner } = setup(() => ({ text: 'Free.' }), { pricing: {} });
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, true, out.error);
    assert.equal(out.cost, 0);
    assert.equal(out.cost_source, 'unpriced');
    assert.ok(out.tokens.input > 0);
  });

  it('merges coding.gemini.config into the session settings file', async () => {
    const { workspace, stateDir, runner } = setup(() => ({ text: 'Configured.' }), { config: { ui: { hideTips: true }, security: { folderTrust: { enabled: true } } } });
    const { task } = makeTask(workspace);
    const out = await runner.run(task);
    // Folder trust on: --skip-trust still keeps yolo for this run (the task completes headless).
    assert.equal(out.success, true, out.error);
    const settings = JSON.parse(readFileSync(path.join(geminiHome(stateDir, task.session_id), '.gemini', 'settings.json'), 'utf8'));
    assert.deepEqual(settings.security, { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: true } });
    assert.equal(settings.ui.hideTips, true);
  });

  it('resumes the conversation: the next task sends the first task’s conversation', async () => {
    const { workspace, runner } = setup(defaultScript({ finalText: 'First done.' }));
    const first = await runner.run(makeTask(workspace, { prompt: 'FIRST TASK: create hello.txt' }).task);
    assert.equal(first.success, true, first.error);

    fake.requests.length = 0;
    fake.setScript(() => ({ text: 'Second done.' }));
    const second = makeTask(workspace, { prompt: 'SECOND TASK: anything else?', backend_session_id: first.backend_session_id });
    const out = await runner.run(second.task);
    assert.equal(out.success, true, out.error);
    assert.equal(out.summary, 'Second done.');
    assert.equal(out.backend_session_id, first.backend_session_id);
    // This task's own tokens, not the conversation's running total.
    assert.deepEqual(out.tokens, { input: 100, output: 30, reasoning: 0, cache_read: 20, cache_write: 0 });

    const main = fake.mainRequests();
    assert.equal(main.length, 1);
    const texts = userTexts(main[0]!.body).join('\n');
    assert.match(texts, /FIRST TASK: create hello\.txt/);
    assert.match(texts, /SECOND TASK: anything else\?/);
    assert.match(functionResponses(main[0]!.body), /write_file/);
    assert.match(JSON.stringify(main[0]!.body.contents), /First done\./);
  });

  it('a conversation that is not on this worker: CodingError not_found naming it, before any model call', async () => {
    const { workspace, runner } = setup(() => ({ text: 'never' }));
    const missing = '0b5e7a58-4c1d-4e8a-9f3b-2a6c1d9e7f10';
    await assert.rejects(runner.run(makeTask(workspace, { backend_session_id: missing }).task), (err: unknown) => {
      assert.ok(err instanceof CodingError, String(err));
      assert.equal(err.kind, 'not_found');
      assert.ok(err.message.includes(missing), err.message);
      return true;
    });
    assert.equal(fake.requests.length, 0);
  });

  it('cancels during a stalled model response: returns quickly, kills gemini, and a retry resumes', async () => {
    const { workspace, runner } = setup(() => ({ stallMs: 60_000, text: 'too late' }));
    const controller = new AbortController();
    const { task } = makeTask(workspace, { signal: controller.signal });
    const running = runner.run(task);
    await waitFor('the model request', () => fake.mainRequests().length >= 1, 30_000);
    const before = processCommands(workspace);
    const sessionId = /--session-id ([0-9a-f-]{36})/.exec(before.find((p) => p.cmd.includes('--session-id'))?.cmd ?? '')?.[1];
    assert.ok(sessionId, JSON.stringify(before));

    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    assert.ok(Date.now() - abortedAt < 5000, `took ${Date.now() - abortedAt} ms`);
    assert.equal(out.success, false);
    assert.equal(out.error, 'cancelled');
    assert.equal(out.backend_session_id, sessionId);
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
    assert.deepEqual(pgrep(sessionId), []);

    // The retry of the same task (same derived id) finds the killed run's conversation and resumes it.
    fake.requests.length = 0;
    fake.setScript(() => ({ text: 'Recovered.' }));
    const retry = await runner.run(makeTask(workspace).task);
    assert.equal(retry.success, true, retry.error);
    assert.equal(retry.backend_session_id, sessionId);
    assert.equal(retry.summary, 'Recovered.');
    const prompts = userTexts(fake.mainRequests()[0]!.body).filter((t) => t.includes('Create hello.txt and show it.'));
    assert.equal(prompts.length, 2, JSON.stringify(prompts));
  });

  it('cancels while a shell tool runs: the tool’s processes are killed too, and the tokens spent so far are reported', async () => {
    const { workspace, runner } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { text: 'Sleeping.', tool: { name: 'run_shell_command', input: { command: 'sleep 287 & sleep 288; echo never', description: 'sleep' } } } : { text: 'done' },
    );
    const controller = new AbortController();
    const { task, usage } = makeTask(workspace, { signal: controller.signal });
    const running = runner.run(task);
    await waitFor('the sleeping tool', () => processCommands(workspace).some((p) => p.cmd === 'sleep 288'), 30_000);
    // The budget sees the first response's tokens while the tool still runs.
    await waitFor('streamed usage', () => usage.some((t) => t.input > 0), 10_000);

    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    assert.ok(Date.now() - abortedAt < 5000, `took ${Date.now() - abortedAt} ms`);
    assert.equal(out.error, 'cancelled');
    assert.deepEqual(out.tokens, { input: 100, output: 30, reasoning: 0, cache_read: 20, cache_write: 0 });
    assert.ok(out.cost > 0);
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
    assert.deepEqual(pgrep('sleep 28[78]'), []);
  });

  it('times out a stalled task: success false, "timed out after 3s", nothing left running', async () => {
    const { workspace, runner } = setup(() => ({ stallMs: 60_000, text: 'too late' }));
    const startedAt = Date.now();
    const out = await runner.run(makeTask(workspace, { timeout_ms: 3000 }).task);
    const took = Date.now() - startedAt;
    assert.ok(took >= 3000 && took < 10_000, `took ${took} ms`);
    assert.equal(out.success, false);
    assert.equal(out.error, 'timed out after 3s');
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
  });

  it('a model error (400): success false with the API’s message, the key redacted', async () => {
    const { workspace, runner } = setup(() => ({ status: 400, errorMessage: `bad request for key ${API_KEY}` }));
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, false);
    assert.match(out.error ?? '', /the Gemini CLI failed .*400.*bad request for key \[redacted\]/);
    assert.doesNotMatch(JSON.stringify(out), new RegExp(API_KEY));
  });

  it('403 from the model API: CodingError auth, without the key', async () => {
    const { workspace, runner } = setup(() => ({ status: 403, errorMessage: `API key ${API_KEY} is not allowed` }));
    await assert.rejects(runner.run(makeTask(workspace).task), (err: unknown) => {
      assert.ok(err instanceof CodingError, String(err));
      assert.equal(err.kind, 'auth');
      assert.equal(err.retryable, false);
      assert.match(err.message, /refused the Gemini CLI's credentials.*GEMINI_API_KEY/);
      assert.doesNotMatch(err.message, new RegExp(API_KEY));
      return true;
    });
  });

  it('no API key: CodingError auth saying how to give one', async () => {
    const { workspace, runner } = setup(() => ({ text: 'never' }), { env: { GOOGLE_GEMINI_BASE_URL: fake.url } });
    const saved = { GEMINI_API_KEY: process.env.GEMINI_API_KEY, GOOGLE_API_KEY: process.env.GOOGLE_API_KEY };
    delete process.env.GEMINI_API_KEY;
    delete process.env.GOOGLE_API_KEY;
    try {
      await assert.rejects(runner.run(makeTask(workspace).task), (err: unknown) => {
        assert.ok(err instanceof CodingError, String(err));
        assert.equal(err.kind, 'auth');
        assert.match(err.message, /set GEMINI_API_KEY \(coding\.gemini\.env/);
        return true;
      });
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v !== undefined) process.env[k] = v;
    }
  });

  it('missing binary: CodingError binary_missing naming the setting and the install command', async () => {
    const { workspace, runner } = setup(() => ({ text: 'never' }), { binary_path: path.join(root, 'no-such-gemini') });
    await assert.rejects(runner.run(makeTask(workspace).task), (err: unknown) => {
      assert.ok(err instanceof CodingError, String(err));
      assert.equal(err.kind, 'binary_missing');
      assert.match(err.message, /coding\.gemini\.binary_path/);
      assert.match(err.message, /npm install -g @google\/gemini-cli/);
      return true;
    });
  });

  it('inside the bubblewrap sandbox: yolo holds, the file is written, and another session’s conversations are not visible', async () => {
    const sandbox = Sandbox.detect('bwrap', [os.homedir(), root, '/tmp', '/var/tmp']);
    const { workspace, stateDir, runner } = setup(defaultScript({ command: `ls -a ${path.join(root, `state-${counter + 1}`, 'gemini')}; echo HOME=$HOME; cat /proc/1/cmdline | tr '\\0' ' '` }), {
      sandbox,
    });
    // Another coding session's Gemini HOME in the same state dir, with a conversation of its own.
    const other = path.join(geminiHome(stateDir, 'another-session'), '.gemini');
    mkdirSync(other, { recursive: true });
    writeFileSync(path.join(other, 'secret-chat.jsonl'), 'other-session-conversation\n');
    const { task } = makeTask(workspace);
    const out = await runner.run(task);
    assert.equal(out.success, true, out.error);
    assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');
    const shell = out.tool_calls[1]!.output ?? '';
    assert.match(shell, new RegExp(`^HOME=${geminiHome(stateDir, task.session_id)}$`, 'm'));
    assert.doesNotMatch(shell, /another-session/);
    assert.match(shell, /bwrap|gemini|node/, 'pid 1 is the sandbox’s own process, not the host’s init');
  });
});
