// CodexRunner against the REAL codex CLI (npm @openai/codex 0.169.0, pinned); the only fake is the model
// (test/support/fake-responses.ts, the OpenAI Responses API on 127.0.0.1). Each test gets its own git workspace
// and coding session (so its own CODEX_HOME under the test's state dir). No OpenAI account or key is involved:
// the provider is the local fake with a dummy key variable.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentTask } from '../src/core/runner.js';
import { CodingError } from '../src/core/errors.js';
import type { ProgressEvent, Tokens } from '../src/contract.js';
import { CodexRunner, type CodexSettings } from '../src/runners/codex/runner.js';
import { codexConfigToml, codexSessionDir } from '../src/runners/codex/codex-home.js';
import { runTokens } from '../src/runners/codex/outcome.js';
import { CodexStreamReader } from '../src/runners/codex/stream-reader.js';
import { Sandbox } from '../src/process/sandbox.js';
import { CODEX_SHELL_TOOL, FAKE_RESPONSES_USAGE, defaultScript, startFakeResponses, type FakeResponses, type FakeScript } from './support/fake-responses.js';
import { codexFakeProvider } from './support/world.js';
import { pgrep, processCommands, waitFor } from './support/helpers.js';
import { recordingTask } from './support/runner-harness.js';

const BINARY = path.resolve(new URL('../..', import.meta.url).pathname, 'node_modules/.bin/codex');
const API_KEY = 'sk-codex-SECRET-4242-abcdef';
const THREAD = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PRICING = { m: { input: 3, output: 15, cache_read: 0.3 } };

/** The per-step usage of the fake in the contract's terms (input without cache, output without reasoning). */
function perStep(steps: number): Tokens {
  const u = FAKE_RESPONSES_USAGE;
  return {
    input: (u.input_tokens - u.cached_tokens) * steps,
    cache_read: u.cached_tokens * steps,
    cache_write: 0,
    output: (u.output_tokens - u.reasoning_tokens) * steps,
    reasoning: u.reasoning_tokens * steps,
  };
}

describe('CodexRunner with the real codex CLI', function () {
  this.timeout(90_000);
  let fake: FakeResponses;
  let root: string;
  let stateDir: string;
  let counter = 0;
  const savedGithubToken = process.env.GITHUB_TOKEN;

  before(async () => {
    assert.ok(existsSync(BINARY), `codex binary missing at ${BINARY}`);
    fake = await startFakeResponses();
    root = mkdtempSync(path.join(os.tmpdir(), 'codex-runner-'));
    stateDir = path.join(root, 'state', 'codex');
    process.env.GITHUB_TOKEN = 'ghp_worker_secret_do_not_leak';
  });

  after(async () => {
    if (savedGithubToken === undefined) delete process.env.GITHUB_TOKEN;
    else process.env.GITHUB_TOKEN = savedGithubToken;
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  function setup(script: FakeScript, overrides: Partial<CodexSettings> = {}) {
    counter++;
    const workspace = path.join(root, `ws-${counter}`);
    execFileSync('git', ['init', '-q', workspace]);
    fake.setScript(script);
    fake.requests.length = 0;
    const runner = new CodexRunner({
      binary_path: BINARY,
      timeout_sec: 60,
      model: 'm',
      config: codexFakeProvider(fake.url),
      env: { FAKE_CODEX_KEY: API_KEY },
      state_dir: stateDir,
      pricing: PRICING,
      ...overrides,
    });
    return { workspace, runner };
  }

  /** The harness's recording task, with the conversations it reports and its token counts as they came. */
  function makeTask(workspace: string, opts: Partial<AgentTask> = {}) {
    const sessions: string[] = [];
    const usage: Tokens[] = [];
    const { task, progress } = recordingTask(workspace, { onBackendSession: (id) => sessions.push(id), usage: (tokens) => usage.push(tokens), ...opts });
    return { task, progress, sessions, usage };
  }

  it('runs a write + command + text task: file written, tool calls with outputs, per-run tokens, cost from pricing, thread id', async () => {
    const { workspace, runner } = setup(defaultScript());
    const { task, progress, sessions, usage } = makeTask(workspace);
    const out = await runner.run(task);
    assert.equal(out.success, true, JSON.stringify(out));
    assert.equal(out.error, undefined);
    assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');
    assert.equal(out.summary, 'Wrote hello.txt and ran `cat hello.txt`.');
    assert.match(out.backend_session_id ?? '', THREAD);
    assert.deepEqual(sessions, [out.backend_session_id], 'the thread id is told as soon as it is known');
    assert.deepEqual(
      out.tool_calls.map((c) => c.tool),
      [CODEX_SHELL_TOOL, CODEX_SHELL_TOOL],
    );
    assert.match(JSON.stringify(out.tool_calls[1]!.input), /cat hello\.txt/);
    assert.equal(out.tool_calls[1]!.output, 'hello from the fake model\n');
    assert.deepEqual(out.tokens, perStep(3));
    assert.equal(out.cost_source, 'pricing');
    const expected = (perStep(3).input * 3 + (perStep(3).output + perStep(3).reasoning) * 15 + perStep(3).cache_read * 0.3) / 1e6;
    assert.ok(Math.abs(out.cost - expected) < 1e-12, `cost ${out.cost} vs ${expected}`);
    assert.equal(out.num_turns, 1);
    assert.deepEqual(usage.at(-1), out.tokens, 'the last usage report is the outcome');
    assert.ok(progress.some((p) => p.kind === 'tool_call' && p.tool === CODEX_SHELL_TOOL));
    assert.ok(progress.some((p) => p.kind === 'tool_result' && p.text.includes('hello from the fake model')));
    assert.ok(progress.some((p) => p.kind === 'text' && p.text.includes('Wrote hello.txt')));
    // Auth-free: the dummy key went to the local provider only, and the request never left 127.0.0.1.
    assert.equal(fake.mainRequests()[0]!.headers.authorization, `Bearer ${API_KEY}`);
    // Its own CODEX_HOME, under the state dir, with the thread in it.
    const home = path.join(codexSessionDir(stateDir, task.session_id), '.codex');
    assert.ok(readdirSync(path.join(home, 'sessions'), { recursive: true }).some((f) => String(f).includes(out.backend_session_id!)));
  });

  it('resumes the thread: the next task sends the first conversation, and its tokens are its own (not the running total)', async () => {
    const { workspace, runner } = setup(defaultScript());
    const first = await runner.run(makeTask(workspace).task);
    assert.equal(first.success, true, JSON.stringify(first));
    fake.requests.length = 0;
    const { task, sessions } = makeTask(workspace, { backend_session_id: first.backend_session_id, prompt: 'Now do it again.' });
    const second = await runner.run(task);
    assert.equal(second.success, true, JSON.stringify(second));
    assert.equal(second.backend_session_id, first.backend_session_id);
    assert.deepEqual(sessions, [first.backend_session_id]);
    const conversation = JSON.stringify(fake.mainRequests()[0]!.body.input);
    assert.ok(conversation.includes('Create hello.txt and show it.') && conversation.includes('Now do it again.'), conversation.slice(-1500));
    // codex printed the thread's running total (6 steps); the run's own figures are 3 steps.
    assert.deepEqual(second.tokens, perStep(3));
  });

  it('a thread this worker does not have: CodingError not_found naming it, before anything runs', async () => {
    const { workspace, runner } = setup(defaultScript());
    const missing = '01a23e37-0000-7000-8000-000000000000';
    await assert.rejects(runner.run(makeTask(workspace, { backend_session_id: missing }).task), (error: unknown) => {
      assert.ok(error instanceof CodingError, String(error));
      assert.equal(error.kind, 'not_found');
      assert.match(error.message, new RegExp(missing));
      return true;
    });
    assert.equal(fake.mainRequests().length, 0);
  });

  it('one session cannot see another session’s threads: each has its own CODEX_HOME', async () => {
    const a = setup(defaultScript());
    const first = await a.runner.run(makeTask(a.workspace).task);
    assert.equal(first.success, true, JSON.stringify(first));
    const b = setup(defaultScript());
    // Session b asks for a's thread: not in b's CODEX_HOME.
    await assert.rejects(b.runner.run(makeTask(b.workspace, { backend_session_id: first.backend_session_id }).task), /not found/);
  });

  it('cancels while a command runs: returns quickly, and codex and every process it started are gone', async () => {
    const { workspace, runner } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { tool: { name: CODEX_SHELL_TOOL, input: { cmd: 'sleep 297 & sleep 298; echo never' } } } : { text: 'done' },
    );
    const controller = new AbortController();
    const { task } = makeTask(workspace, { signal: controller.signal });
    const running = runner.run(task);
    await waitFor('the sleeping command', () => processCommands(workspace).some((p) => p.cmd === 'sleep 298'), 30_000);
    const abortedAt = Date.now();
    controller.abort();
    const out = await running;
    assert.ok(Date.now() - abortedAt < 8000, `took ${Date.now() - abortedAt} ms`);
    assert.equal(out.success, false);
    assert.equal(out.error, 'cancelled');
    assert.match(out.backend_session_id ?? '', THREAD);
    // Codex 0.169.0 reports usage only when a turn ends (turn.completed; the rollout's token_count too): a run
    // stopped mid-turn has none to report.
    assert.deepEqual(out.tokens, { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 });
    await waitFor('no process left', () => processCommands(workspace).length === 0, 10_000);
    assert.deepEqual(pgrep('sleep 29[78]'), []);
  });

  it('times out a stalled model: success false, "timed out after 3s", nothing left running', async () => {
    const { workspace, runner } = setup(() => ({ stallMs: 60_000, text: 'too late' }));
    const startedAt = Date.now();
    const out = await runner.run(makeTask(workspace, { timeout_ms: 3000 }).task);
    const took = Date.now() - startedAt;
    assert.ok(took >= 3000 && took < 12_000, `took ${took} ms`);
    assert.equal(out.success, false);
    assert.equal(out.error, 'timed out after 3s');
    await waitFor('no process left', () => processCommands(workspace).length === 0, 10_000);
  });

  it('401 from the model: CodingError auth naming the fix, without the key', async () => {
    const { workspace, runner } = setup(() => ({ status: 401, errorMessage: `Incorrect API key provided: ${API_KEY}` }));
    await assert.rejects(runner.run(makeTask(workspace).task), (error: unknown) => {
      assert.ok(error instanceof CodingError, String(error));
      assert.equal(error.kind, 'auth');
      assert.match(error.message, /codex login|OPENAI_API_KEY/);
      assert.ok(!error.message.includes(API_KEY), error.message);
      return true;
    });
  });

  it('500 from the model: a failed task with the provider’s message', async () => {
    const { workspace, runner } = setup(() => ({ status: 500, errorMessage: 'the fake model broke' }));
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, false);
    assert.match(out.error ?? '', /^codex: /);
  });

  it('a failed command is a tool call with error', async () => {
    const { workspace, runner } = setup(({ turnIndex }) =>
      turnIndex === 0 ? { tool: { name: CODEX_SHELL_TOOL, input: { cmd: 'echo oops >&2; exit 3' } } } : { text: 'It failed.' },
    );
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, true, JSON.stringify(out));
    assert.match(out.tool_calls[0]!.error ?? '', /exit code 3/);
  });

  it('a model with no coding.pricing entry: cost 0, cost_source unpriced', async () => {
    const { workspace, runner } = setup(({ turnIndex }) => (turnIndex === 0 ? { text: 'Nothing to do.' } : { text: 'x' }), { pricing: {} });
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, true, JSON.stringify(out));
    assert.equal(out.cost, 0);
    assert.equal(out.cost_source, 'unpriced');
    assert.ok(out.tokens.input > 0);
  });

  it('missing binary: CodingError binary_missing naming the setting and the install command', async () => {
    const { workspace, runner } = setup(defaultScript(), { binary_path: path.join(root, 'no-such-codex') });
    await assert.rejects(runner.run(makeTask(workspace).task), (error: unknown) => {
      assert.ok(error instanceof CodingError);
      assert.equal(error.kind, 'binary_missing');
      assert.match(error.message, /coding\.codex\.binary_path/);
      assert.match(error.message, /@openai\/codex/);
      return true;
    });
  });

  it('copies the user’s `codex login` auth.json into the session’s CODEX_HOME', async () => {
    const userHome = path.join(root, 'user-codex-home');
    mkdirSync(userHome, { recursive: true });
    writeFileSync(path.join(userHome, 'auth.json'), '{"OPENAI_API_KEY":null,"tokens":null}');
    const saved = process.env.CODEX_HOME;
    process.env.CODEX_HOME = userHome;
    try {
      const { workspace, runner } = setup(({ turnIndex }) => (turnIndex === 0 ? { text: 'Hi.' } : { text: 'x' }));
      const { task } = makeTask(workspace);
      const out = await runner.run(task);
      assert.equal(out.success, true, JSON.stringify(out));
      const copied = path.join(codexSessionDir(stateDir, task.session_id), '.codex', 'auth.json');
      assert.equal(readFileSync(copied, 'utf8'), '{"OPENAI_API_KEY":null,"tokens":null}');
    } finally {
      if (saved === undefined) delete process.env.CODEX_HOME;
      else process.env.CODEX_HOME = saved;
    }
  });

  it('runs inside bubblewrap (Codex’s own sandbox bypassed): the command works, the worker’s secrets are not in its environment', async function () {
    let sandbox: Sandbox;
    try {
      sandbox = Sandbox.detect('bwrap', [path.join(root, 'hidden')]);
    } catch {
      this.skip();
    }
    mkdirSync(path.join(root, 'hidden'), { recursive: true });
    const { workspace, runner } = setup(defaultScript({ command: 'env; ls /tmp' }), { sandbox: sandbox! });
    const out = await runner.run(makeTask(workspace).task);
    assert.equal(out.success, true, JSON.stringify(out));
    assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');
    assert.ok(!out.tool_calls[1]!.output!.includes('ghp_worker_secret_do_not_leak'), out.tool_calls[1]!.output);
  });
});

describe('codex pieces', () => {
  it('turns running totals into the run’s own tokens (cache and reasoning counted once)', () => {
    const before = { input_tokens: 800, cached_input_tokens: 200, output_tokens: 100, reasoning_output_tokens: 20 };
    const after = { input_tokens: 2000, cached_input_tokens: 500, cache_write_input_tokens: 0, output_tokens: 250, reasoning_output_tokens: 50 };
    assert.deepEqual(runTokens(after, before), { input: 900, cache_read: 300, cache_write: 0, output: 120, reasoning: 30 });
    assert.deepEqual(runTokens(after, undefined), { input: 1500, cache_read: 500, cache_write: 0, output: 200, reasoning: 50 });
    // A total below the baseline (a different thread's figures) never goes negative.
    assert.deepEqual(runTokens(before, after), { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0 });
  });

  it('reads every item type and treats the model-metadata warning as harmless', () => {
    const progress: ProgressEvent[] = [];
    const threads: string[] = [];
    const task = { progress: (e: ProgressEvent) => progress.push(e) } as unknown as AgentTask;
    const r = new CodexStreamReader(task, (id) => threads.push(id));
    const lines = [
      { type: 'thread.started', thread_id: 't-1' },
      { type: 'item.completed', item: { id: 'i0', type: 'error', message: 'Model metadata for `m` not found. Defaulting to fallback metadata' } },
      { type: 'turn.started' },
      { type: 'item.completed', item: { id: 'i1', type: 'reasoning', text: 'thinking about it' } },
      { type: 'item.started', item: { id: 'i2', type: 'file_change', changes: [{ path: '/w/a.ts', kind: 'add' }], status: 'in_progress' } },
      { type: 'item.completed', item: { id: 'i2', type: 'file_change', changes: [{ path: '/w/a.ts', kind: 'add' }], status: 'completed' } },
      { type: 'item.started', item: { id: 'i3', type: 'mcp_tool_call', server: 'station', tool: 'status', arguments: { a: 1 }, status: 'in_progress' } },
      { type: 'item.completed', item: { id: 'i3', type: 'mcp_tool_call', server: 'station', tool: 'status', arguments: { a: 1 }, result: { content: [{ type: 'text', text: 'ok' }] }, status: 'completed' } },
      'not json',
      { type: 'item.completed', item: { id: 'i4', type: 'agent_message', text: 'All done.' } },
      { type: 'turn.completed', usage: { input_tokens: 10, output_tokens: 2 } },
    ];
    for (const line of lines) r.onLine(typeof line === 'string' ? line : JSON.stringify(line));
    assert.deepEqual(threads, ['t-1']);
    assert.equal(r.completed, true);
    assert.deepEqual(r.fatalErrors(), []);
    assert.deepEqual(
      r.finalToolCalls().map((c) => [c.tool, c.output]),
      [
        ['apply_patch', 'add /w/a.ts'],
        ['mcp:station.status', 'ok'],
      ],
    );
    assert.equal(r.lastAgentText(), 'All done.');
    assert.ok(progress.some((p) => p.kind === 'text' && p.text === 'thinking about it'));
  });

  it('writes coding.codex.config as TOML, and names the field of a value TOML cannot hold', () => {
    const toml = codexConfigToml({ model_provider: 'fake', model_providers: { fake: { base_url: 'http://x/v1', retries: 0 } }, 'a.b': [1, 'two'] }, 'm');
    assert.match(toml, /^approval_policy = "never"$/m);
    assert.match(toml, /^model_providers = \{ fake = \{ base_url = "http:\/\/x\/v1", retries = 0 \} \}$/m);
    assert.match(toml, /^"a\.b" = \[1, "two"\]$/m);
    assert.match(toml, /^model = "m"$/m);
    assert.throws(() => codexConfigToml({ model_providers: { fake: { base_url: null } } }, undefined), /coding\.codex\.config\.model_providers\.fake\.base_url is null/);
  });
});
