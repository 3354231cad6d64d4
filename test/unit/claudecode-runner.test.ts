// ClaudeCodeRunner against the REAL claude CLI (npm @anthropic-ai/claude-code, pinned); the only fake is the
// language model (test/support/fake-anthropic.ts on 127.0.0.1). Each test gets its own git workspace and HOME.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ClaudeCodeRunner } from '../../src/runners/claudecode/runner.js';
import type { ClaudeCodeSettings } from '../../src/runners/claudecode/settings.js';
import { CodingError } from '../../src/core/errors.js';
import { pgrep, processCommands, waitFor } from '../support/helpers.js';
import { recordingTask } from '../support/runner-harness.js';
import { defaultScript, startFakeAnthropic, type FakeAnthropic, type FakeScript } from '../support/fake-anthropic.js';

const BINARY = (() => {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('@anthropic-ai/claude-code/package.json');
  return path.resolve(path.dirname(pkgPath), 'bin/claude.exe');
})();
const API_KEY = 'sk-ant-test-SECRET-4242';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('ClaudeCodeRunner with the real claude CLI', function () {
  this.timeout(60_000);
  let fake: FakeAnthropic;
  let root: string;
  let counter = 0;
  const savedGithubToken = process.env.GITHUB_TOKEN;

  before(async () => {
    assert.ok(existsSync(BINARY), `claude binary missing at ${BINARY}`);
    fake = await startFakeAnthropic();
    root = mkdtempSync(path.join(os.tmpdir(), 'cc-runner-'));
    // A secret of the worker that must not reach the agent.
    process.env.GITHUB_TOKEN = 'ghp_worker_secret_do_not_leak';
  });

  after(async () => {
    if (savedGithubToken === undefined) delete process.env.GITHUB_TOKEN;
    else process.env.GITHUB_TOKEN = savedGithubToken;
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /** A fresh git workspace and HOME, and a runner pointed at the fake. */
  function setup(script: FakeScript, overrides: Partial<ClaudeCodeSettings> = {}) {
    counter++;
    const workspace = path.join(root, `ws-${counter}`);
    const home = path.join(root, `home-${counter}`);
    execFileSync('git', ['init', '-q', workspace]);
    fake.setScript(script);
    fake.requests.length = 0;
    const runner = new ClaudeCodeRunner({
      binary_path: BINARY,
      timeout_sec: 60,
      model: 'claude-sonnet-4-5',
      max_turns: 10,
      home,
      env: { ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: API_KEY },
      ...overrides,
    });
    return { workspace, home, runner };
  }

  const makeTask = recordingTask;

  it('runs a Write + Bash + text task: file written, tool calls with outputs, tokens, cost, session id', async () => {
    const { workspace, home, runner } = setup(
      defaultScript({ content: 'hello from the fake model\n', command: 'cat hello.txt; env', finalText: 'All done.' }),
    );
    const { task, progress } = makeTask(workspace);
    const out = await runner.run(task);

    assert.equal(out.success, true, out.error);
    assert.equal(out.error, undefined);
    assert.equal(out.summary, 'All done.');
    assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');

    assert.deepEqual(
      out.tool_calls.map((c) => c.tool),
      ['Write', 'Bash'],
    );
    const [write, bash] = out.tool_calls;
    assert.deepEqual(write!.input, { file_path: path.join(workspace, 'hello.txt'), content: 'hello from the fake model\n' });
    assert.match(write!.output ?? '', /File created successfully/);
    assert.match(bash!.output ?? '', /^hello from the fake model/);
    // The child environment: our HOME, the quiet flags, nothing of the worker's secrets.
    assert.match(bash!.output ?? '', new RegExp(`^HOME=${home}$`, 'm'));
    assert.match(bash!.output ?? '', /^CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1$/m);
    assert.doesNotMatch(bash!.output ?? '', /GITHUB_TOKEN|ghp_worker_secret/);

    assert.equal(out.num_turns, 3);
    assert.ok(out.tokens.input > 0 && out.tokens.output > 0, JSON.stringify(out.tokens));
    assert.ok(out.tokens.cache_read > 0 && out.tokens.cache_write > 0, JSON.stringify(out.tokens));
    assert.ok(out.cost > 0, `cost ${out.cost}`);
    assert.match(out.backend_session_id ?? '', UUID);

    // Progress arrived per tool call, in order, with a short description.
    const calls = progress.filter((p) => p.kind === 'tool_call');
    assert.deepEqual(
      calls.map((p) => p.tool),
      ['Write', 'Bash'],
    );
    assert.equal(calls[0]!.text, `Write: ${path.join(workspace, 'hello.txt')}`);
    assert.equal(progress.filter((p) => p.kind === 'tool_result').length, 2);
    assert.ok(progress.some((p) => p.kind === 'text' && p.text === 'All done.'));

    // What the CLI sent: three agent turns, with our key and model; the transcript is under our HOME.
    const main = fake.mainRequests();
    assert.equal(main.length, 3);
    assert.equal(main[0]!.headers['x-api-key'], API_KEY);
    assert.equal(main[0]!.body.model, 'claude-sonnet-4-5');
    const projects = path.join(home, '.claude', 'projects');
    const transcripts = readdirSync(projects).flatMap((d) => readdirSync(path.join(projects, d)));
    assert.ok(transcripts.includes(`${out.backend_session_id}.jsonl`), transcripts.join(', '));
  });

  it('resumes the session: the next task sends the first task’s conversation', async () => {
    const { workspace, runner } = setup(defaultScript({ finalText: 'First done.' }));
    const first = await runner.run(makeTask(workspace, { prompt: 'FIRST TASK: create hello.txt' }).task);
    assert.equal(first.success, true, first.error);

    fake.requests.length = 0;
    fake.setScript(() => ({ text: 'Second done.' }));
    const second = await runner.run(
      makeTask(workspace, { prompt: 'SECOND TASK: anything else?', backend_session_id: first.backend_session_id }).task,
    );
    assert.equal(second.success, true, second.error);
    assert.equal(second.summary, 'Second done.');
    assert.equal(second.backend_session_id, first.backend_session_id);

    const main = fake.mainRequests();
    assert.equal(main.length, 1);
    const conversation = JSON.stringify(main[0]!.body.messages);
    assert.match(conversation, /FIRST TASK: create hello\.txt/);
    assert.match(conversation, /"type":"tool_use"[^}]*"name":"Write"/);
    assert.match(conversation, /"type":"tool_result"/);
    assert.match(conversation, /First done\./);
    assert.match(conversation, /SECOND TASK: anything else\?/);
  });

  it('a backend session that is not in this HOME: a new conversation under the same id, with a note', async () => {
    const { workspace, runner } = setup(() => ({ text: 'Fresh start.' }));
    const missing = '0b5e7a58-4c1d-4e8a-9f3b-2a6c1d9e7f10';
    const { task, progress } = makeTask(workspace, { backend_session_id: missing });
    const out = await runner.run(task);
    assert.equal(out.success, true, out.error);
    assert.equal(out.backend_session_id, missing);
    assert.ok(progress.some((p) => p.kind === 'text' && p.text.includes(`session ${missing} not found`)));
    assert.equal(fake.mainRequests()[0]!.headers['x-claude-code-session-id'], missing);
  });

  it('a transcript that holds no conversation (a run killed as it started): a new conversation under a new id, not an error', async () => {
    const { workspace, home, runner } = setup(() => ({ text: 'Started over.' }));
    const broken = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
    const dir = path.join(home, '.claude', 'projects', workspace.replace(/[^a-zA-Z0-9]/g, '-'));
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, `${broken}.jsonl`), '');
    const reported: string[] = [];
    const out = await runner.run(makeTask(workspace, { backend_session_id: broken, onBackendSession: (id) => reported.push(id) }).task);
    assert.equal(out.success, true, out.error);
    assert.equal(out.summary, 'Started over.');
    assert.notEqual(out.backend_session_id, broken);
    assert.equal(reported.at(-1), out.backend_session_id, 'the new id reaches the checkpoint');
  });

  it('cancels during a stalled model response: returns quickly, kills claude, and a retry resumes', async () => {
    const { workspace, home, runner } = setup(() => ({ stallMs: 60_000, text: 'too late' }));
    const controller = new AbortController();
    const { task } = makeTask(workspace, { signal: controller.signal });
    const running = runner.run(task);
    await waitFor('the model request', () => fake.mainRequests().length >= 1);
    const before = processCommands(workspace);
    assert.ok(before.some((p) => p.cmd.includes('--session-id')), JSON.stringify(before));
    const sessionId = /--session-id ([0-9a-f-]{36})/.exec(before.find((p) => p.cmd.includes('--session-id'))!.cmd)![1]!;

    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    assert.ok(Date.now() - abortedAt < 5000, `took ${Date.now() - abortedAt} ms`);
    assert.equal(out.success, false);
    assert.equal(out.error, 'cancelled');
    assert.equal(out.backend_session_id, sessionId);
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
    assert.deepEqual(pgrep(sessionId), []);

    // The killed run left its transcript (the prompt is written before the model answers) ...
    const transcript = path.join(home, '.claude', 'projects', workspace.replace(/[^a-zA-Z0-9]/g, '-'), `${sessionId}.jsonl`);
    assert.ok(existsSync(transcript), transcript);
    // ... so when the activity retries the same first task, it resumes instead of failing with
    // "Session ID ... is already in use": the model sees the prompt of the killed attempt and the new one.
    fake.requests.length = 0;
    fake.setScript(() => ({ text: 'Recovered.' }));
    const retry = await runner.run(makeTask(workspace).task);
    assert.equal(retry.success, true, retry.error);
    assert.equal(retry.backend_session_id, sessionId);
    assert.equal(retry.summary, 'Recovered.');
    const conversation = JSON.stringify(fake.mainRequests()[0]!.body.messages);
    assert.equal(conversation.split('Create hello.txt and show it.').length - 1, 2, conversation.slice(-2000));
  });

  it('cancels while a Bash tool runs: the tool’s own process session is killed too', async () => {
    const { workspace, runner } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { tool: { name: 'Bash', input: { command: 'sleep 287 & sleep 288; echo never' } } } : { text: 'done' },
    );
    const controller = new AbortController();
    const { task } = makeTask(workspace, { signal: controller.signal });
    const running = runner.run(task);
    await waitFor('the sleeping tool', () => processCommands(workspace).some((p) => p.cmd === 'sleep 288'));

    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    assert.ok(Date.now() - abortedAt < 5000, `took ${Date.now() - abortedAt} ms`);
    assert.equal(out.success, false);
    assert.equal(out.error, 'cancelled');
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
    assert.deepEqual(pgrep('sleep 28[78]'), []);
  });

  it('times out a stalled task: success false, "timed out after 3s", nothing left running', async () => {
    const { workspace, runner } = setup(() => ({ stallMs: 60_000, text: 'too late' }));
    const startedAt = Date.now();
    const out = await runner.run(makeTask(workspace, { timeout_ms: 3000 }).task);
    const took = Date.now() - startedAt;
    assert.ok(took >= 3000 && took < 8000, `took ${took} ms`);
    assert.equal(out.success, false);
    assert.equal(out.error, 'timed out after 3s');
    assert.match(out.backend_session_id ?? '', UUID);
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
    assert.deepEqual(pgrep(out.backend_session_id!), []);
  });

  it('claude dying without a result: retryable CodingError unavailable with its stderr', async () => {
    const { workspace, runner } = setup(() => ({ stallMs: 60_000, text: 'too late' }));
    const running = runner.run(makeTask(workspace).task);
    await waitFor('the model request', () => fake.mainRequests().length >= 1);
    const claude = processCommands(workspace).find((p) => p.cmd.includes('--session-id'));
    assert.ok(claude);
    process.kill(claude.pid, 'SIGKILL');
    const error = await running.then(
      () => assert.fail('expected unavailable'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CodingError, String(error));
    assert.equal(error.kind, 'unavailable');
    assert.equal(error.retryable, true);
    assert.match(error.message, /killed by SIGKILL without a result/);
  });

  it('stops at max_turns with a message naming coding.claudecode.max_turns', async () => {
    const { workspace, runner } = setup(
      ({ turnIndex }) => ({ tool: { name: 'Bash', input: { command: `echo turn ${turnIndex}` } } }),
      { max_turns: 2 },
    );
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, false);
    assert.match(out.error ?? '', /coding\.claudecode\.max_turns/);
    assert.equal(out.tool_calls.length, 2);
    assert.equal(out.tool_calls[1]!.output, 'turn 1');
    assert.ok(out.cost > 0);
  });

  it('offers only allowed_tools and removes disallowed_tools', async () => {
    const { workspace, runner } = setup(() => ({ text: 'ok' }), { allowed_tools: ['Read', 'Write', 'Bash'], disallowed_tools: ['Bash'] });
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, true, out.error);
    const tools = fake.mainRequests()[0]!.body.tools.map((t: { name: string }) => t.name).sort();
    assert.deepEqual(tools, ['Read', 'Write']);
  });

  it('marks a failed tool call with error', async () => {
    const { workspace, runner } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { tool: { name: 'Bash', input: { command: 'echo oops >&2; exit 3' } } } : { text: 'It failed.' },
    );
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, true, out.error);
    assert.equal(out.tool_calls.length, 1);
    assert.equal(out.tool_calls[0]!.output, undefined);
    assert.match(out.tool_calls[0]!.error ?? '', /Exit code 3/);
    assert.match(out.tool_calls[0]!.error ?? '', /oops/);
  });

  it('a model API that cannot be reached: each retry shown as it happens, then one line naming the fix', async () => {
    const { workspace, runner } = setup(defaultScript(), {
      env: { ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', ANTHROPIC_API_KEY: API_KEY, CLAUDE_CODE_MAX_RETRIES: '2' },
    });
    const { task, progress } = makeTask(workspace);
    const out = await runner.run(task);
    assert.equal(out.success, false);
    assert.match(out.error ?? '', /^Claude Code could not reach its model API \(API Error: Unable to connect to API \(ConnectionRefused\)\): check ANTHROPIC_BASE_URL/);
    const retries = progress.filter((e) => e.kind === 'text' && /Claude Code retries/.test(e.text ?? ''));
    assert.equal(retries.length, 2, JSON.stringify(progress));
    assert.match(retries[0]!.text!, /the model API failed \(no answer\); Claude Code retries in \d+\.\d s \(attempt 1 of 2\)/);
  });

  it('401 from the model API: CodingError auth, quickly, without the key', async () => {
    const { workspace, runner } = setup(() => ({ status: 401, errorMessage: 'invalid x-api-key' }));
    const startedAt = Date.now();
    const error = await runner.run(makeTask(workspace).task).then(
      () => assert.fail('expected an auth error'),
      (e: unknown) => e,
    );
    // The CLI itself would retry a 401 for about three minutes.
    assert.ok(Date.now() - startedAt < 15_000, `took ${Date.now() - startedAt} ms`);
    assert.ok(error instanceof CodingError, String(error));
    assert.equal(error.kind, 'auth');
    assert.equal(error.retryable, false);
    assert.match(error.message, /401/);
    assert.ok(!error.message.includes(API_KEY));
    await waitFor('no process left', () => processCommands(workspace).length === 0, 5000);
  });

  it('403 whose message echoes the key: CodingError auth with the provider message, key redacted', async () => {
    const { workspace, runner } = setup(() => ({ status: 403, errorMessage: `key ${API_KEY} may not use this model` }));
    const error = await runner.run(makeTask(workspace).task).then(
      () => assert.fail('expected an auth error'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CodingError, String(error));
    assert.equal(error.kind, 'auth');
    assert.match(error.message, /403.*may not use this model/);
    assert.ok(!error.message.includes(API_KEY), error.message);
  });

  it('missing binary: CodingError binary_missing naming the setting and the install command', async () => {
    const { workspace, runner } = setup(() => ({ text: 'unused' }), { binary_path: path.join(root, 'no-such-claude') });
    const error = await runner.run(makeTask(workspace).task).then(
      () => assert.fail('expected binary_missing'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof CodingError, String(error));
    assert.equal(error.kind, 'binary_missing');
    assert.equal(error.retryable, false);
    assert.match(error.message, /coding\.claudecode\.binary_path/);
    assert.match(error.message, /npm install -g @anthropic-ai\/claude-code/);
  });
});
