// Both OpenCode runners against the REAL opencode binary (npm opencode-ai, pinned); the only fake is the
// language model (test/support/fake-openai.ts on 127.0.0.1).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AgentOutcome, AgentTask } from '../src/core/runner.js';
import { CodingError } from '../src/core/errors.js';
import { OpenCodeCliRunner, openCodeCliStateDir } from '../src/runners/opencode-cli/runner.js';
import { defaultOpenCodeBinary } from '../src/runners/opencode-shared/binary.js';
import { OpenCodeServerRunner } from '../src/runners/opencode/runner.js';
import type { ProgressEvent } from '../src/contract.js';
import { defaultScript, startFakeOpenAI, type FakeOpenAI, type FakeScript } from './support/fake-openai.js';
import { fakeOpenCodeConfig } from './support/opencode-fixture.js';

const BINARY = defaultOpenCodeBinary();

interface TaskOptions {
  session_id?: string;
  prompt?: string;
  backend_session_id?: string;
  timeout_ms?: number;
  signal?: AbortSignal;
  title?: string;
}

function makeTask(workspace: string, opts: TaskOptions = {}): { task: AgentTask; progress: Array<ProgressEvent & { at: number }> } {
  const progress: Array<ProgressEvent & { at: number }> = [];
  const task: AgentTask = {
    session_id: opts.session_id ?? `s-${path.basename(workspace)}`,
    workspace_path: workspace,
    prompt: opts.prompt ?? 'Write hello.txt and list the directory.',
    title: opts.title,
    backend_session_id: opts.backend_session_id,
    timeout_ms: opts.timeout_ms ?? 60_000,
    signal: opts.signal ?? new AbortController().signal,
    progress: (event) => progress.push({ ...event, at: Date.now() }),
  };
  return { task, progress };
}

/** A task on a session the runner's OpenCode does not have: a non-retryable not_found that names the session. */
async function assertUnknownSessionNamed(runner: { run(task: AgentTask): Promise<AgentOutcome> }, workspace: string): Promise<void> {
  await assert.rejects(runner.run(makeTask(workspace, { backend_session_id: 'ses_doesnotexist' }).task), (error: unknown) => {
    assert.ok(error instanceof CodingError, String(error));
    assert.equal(error.kind, 'not_found');
    assert.match(error.message, /ses_doesnotexist/);
    return true;
  });
}

function newWorkspace(root: string, name: string): string {
  const dir = mkdtempSync(path.join(root, `${name}-`));
  execFileSync('git', ['init', '-q', dir]);
  return dir;
}

/** The opencode processes whose command line mentions `needle` (e.g. a workspace path). */
function processesMentioning(needle: string): string[] {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((line) => line.includes(needle) && line.includes('opencode') && !line.includes('ps -eo'));
}

/** A script whose final turn records when the model was asked for it (to prove progress is live). */
function timedScript(record: { finalAskedAt?: number }, base: FakeScript = defaultScript()): FakeScript {
  return (ctx) => {
    if (ctx.turnIndex % 3 === 2 && record.finalAskedAt === undefined) record.finalAskedAt = Date.now();
    return base(ctx);
  };
}

function userTexts(body: any): string[] {
  return (body?.messages ?? [])
    .filter((m: any) => m.role === 'user')
    .map((m: any) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)));
}

function assertScriptedOutcome(outcome: AgentOutcome, workspace: string): void {
  assert.equal(outcome.error, undefined, `unexpected error: ${outcome.error}`);
  assert.equal(outcome.success, true);
  assert.equal(readFileSync(path.join(workspace, 'hello.txt'), 'utf8'), 'hello from the fake model\n');
  const write = outcome.tool_calls.find((c) => c.tool === 'write');
  const bash = outcome.tool_calls.find((c) => c.tool === 'bash');
  assert.ok(write, `no write call in ${JSON.stringify(outcome.tool_calls)}`);
  assert.ok(bash, `no bash call in ${JSON.stringify(outcome.tool_calls)}`);
  assert.equal((write.input as any).filePath, path.join(workspace, 'hello.txt'));
  assert.match(write.output ?? '', /wrote/i);
  assert.equal((bash.input as any).command, 'ls');
  assert.match(bash.output ?? '', /hello\.txt/); // the real output of `ls` in the workspace
  assert.equal(bash.error, undefined);
  assert.equal(outcome.summary, 'Done: wrote the file and listed the directory.');
  // Three model steps, each reported 120 prompt tokens (20 cached) and 30 completion tokens.
  assert.equal(outcome.num_turns, 3);
  assert.deepEqual(
    { input: outcome.tokens.input, output: outcome.tokens.output, cache_read: outcome.tokens.cache_read, cache_write: outcome.tokens.cache_write },
    { input: 300, output: 90, cache_read: 60, cache_write: 0 },
  );
  // 3 x (100 x 3 + 30 x 15 + 20 x 0.3) / 1e6
  assert.ok(Math.abs(outcome.cost - 3 * (100 * 3 + 30 * 15 + 20 * 0.3) / 1e6) < 1e-9, `cost ${outcome.cost}`);
  assert.match(outcome.backend_session_id ?? '', /^ses_/);
}

function assertLiveProgress(progress: Array<ProgressEvent & { at: number }>, record: { finalAskedAt?: number }): void {
  const writeCall = progress.find((p) => p.kind === 'tool_call' && p.tool === 'write');
  const bashResult = progress.find((p) => p.kind === 'tool_result' && p.tool === 'bash');
  assert.ok(writeCall, `no write progress: ${JSON.stringify(progress)}`);
  assert.ok(bashResult, `no bash result progress: ${JSON.stringify(progress)}`);
  assert.match(bashResult.text, /hello\.txt/);
  assert.ok(record.finalAskedAt, 'the final turn was never asked for');
  // The tool progress arrived while the task was still running (before the model's last turn was asked).
  assert.ok(writeCall.at <= record.finalAskedAt, 'write progress came only after the run');
}

describe('OpenCode runners against the real opencode binary', function () {
  this.timeout(60_000);
  let fake: FakeOpenAI;
  let root: string;

  before(async function () {
    assert.ok(existsSync(BINARY) || BINARY === 'opencode', `opencode binary not found: ${BINARY}`);
    fake = await startFakeOpenAI();
    root = mkdtempSync(path.join(os.tmpdir(), 'oc-runner-'));
  });
  after(async () => {
    await fake?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });
  beforeEach(() => fake.setScript(defaultScript()));

  describe('opencode-cli (opencode run --format json)', () => {
    let runner: OpenCodeCliRunner;
    before(() => {
      runner = new OpenCodeCliRunner({
        binary_path: BINARY,
        timeout_sec: 60,
        model: 'fake/m',
        config: fakeOpenCodeConfig(fake.url),
        state_dir: path.join(root, 'cli-state'),
      });
    });

    let firstWorkspace: string;
    let firstOutcome: AgentOutcome;
    let firstSessionId: string;

    it('runs a scripted write + bash + text conversation and reports tools, tokens and cost', async () => {
      firstWorkspace = newWorkspace(root, 'cli');
      const record: { finalAskedAt?: number } = {};
      fake.setScript(timedScript(record));
      const { task, progress } = makeTask(firstWorkspace, { prompt: 'CLI first task: write hello.txt' });
      firstSessionId = task.session_id;
      firstOutcome = await runner.run(task);
      assertScriptedOutcome(firstOutcome, firstWorkspace);
      assertLiveProgress(progress, record);
      // The model really got our prompt and the real workspace.
      const main = fake.mainRequests().at(-1)!;
      assert.ok(userTexts(main.body).some((t) => t.includes('CLI first task: write hello.txt')));
      assert.equal(main.body.model, 'm');
    });

    it('continues the same OpenCode session on the next task (-s)', async () => {
      assert.ok(firstOutcome, 'first test did not run');
      const before = fake.mainRequests().length;
      fake.setScript(() => ({ text: 'Second answer.' }));
      const { task } = makeTask(firstWorkspace, {
        session_id: firstSessionId,
        prompt: 'CLI second task',
        backend_session_id: firstOutcome.backend_session_id,
      });
      const outcome = await runner.run(task);
      assert.equal(outcome.success, true, outcome.error);
      assert.equal(outcome.summary, 'Second answer.');
      assert.equal(outcome.backend_session_id, firstOutcome.backend_session_id);
      const requests = fake.mainRequests().slice(before);
      assert.equal(requests.length, 1);
      const body = requests[0]!.body;
      assert.deepEqual(userTexts(body), ['CLI first task: write hello.txt', 'CLI second task']);
      const assistantTexts = body.messages.filter((m: any) => m.role === 'assistant').map((m: any) => m.content);
      assert.ok(assistantTexts.includes('Done: wrote the file and listed the directory.'));
      assert.equal(outcome.tool_calls.length, 0);
      assert.equal(outcome.num_turns, 1);
    });

    it('cancel during a stalled model ends the task within seconds and leaves no opencode process', async () => {
      const workspace = newWorkspace(root, 'cli-cancel');
      const controller = new AbortController();
      let abortedAt = 0;
      fake.setScript(() => {
        setTimeout(() => {
          abortedAt = Date.now();
          controller.abort();
        }, 300);
        return { stallMs: 120_000 };
      });
      const { task } = makeTask(workspace, { signal: controller.signal });
      const outcome = await runner.run(task);
      const took = Date.now() - abortedAt;
      assert.ok(abortedAt > 0, 'the model was never asked');
      assert.equal(outcome.success, false);
      assert.equal(outcome.error, 'cancelled');
      assert.ok(took < 5_000, `cancel took ${took} ms`);
      assert.deepEqual(processesMentioning(workspace), []);
    });

    it('times out a stalled model after the task timeout', async () => {
      const workspace = newWorkspace(root, 'cli-timeout');
      fake.setScript(() => ({ stallMs: 120_000 }));
      const started = Date.now();
      const outcome = await runner.run(makeTask(workspace, { timeout_ms: 4_000 }).task);
      assert.equal(outcome.success, false);
      assert.equal(outcome.error, 'timed out after 4s');
      assert.ok(Date.now() - started < 9_000);
      assert.deepEqual(processesMentioning(workspace), []);
    });

    it('a provider 401 is a non-retryable CodingError of kind provider with the provider message', async () => {
      const workspace = newWorkspace(root, 'cli-401');
      fake.setScript(() => ({ status: 401, errorMessage: 'Incorrect API key provided: test-key' }));
      await assert.rejects(runner.run(makeTask(workspace).task), (error: unknown) => {
        assert.ok(error instanceof CodingError, String(error));
        assert.equal(error.kind, 'provider');
        assert.equal(error.retryable, false);
        assert.match(error.message, /Incorrect API key provided/);
        assert.match(error.message, /401/);
        return true;
      });
    });

    it('keeps each coding session\'s OpenCode state in its own dir; an unknown session is a clear not_found', async () => {
      assert.ok(existsSync(path.join(openCodeCliStateDir(path.join(root, 'cli-state'), firstSessionId), 'data', 'opencode')));
      await assertUnknownSessionNamed(runner, newWorkspace(root, 'cli-unknown'));
    });

    it('a missing binary is a CodingError binary_missing', async () => {
      const broken = new OpenCodeCliRunner({ binary_path: path.join(root, 'no-such-opencode'), timeout_sec: 10, state_dir: path.join(root, 'x') });
      await assert.rejects(broken.run(makeTask(newWorkspace(root, 'cli-nobin')).task), (error: unknown) => {
        assert.ok(error instanceof CodingError);
        assert.equal(error.kind, 'binary_missing');
        return true;
      });
    });
  });

  describe('opencode (managed opencode serve, @opencode-ai/sdk)', () => {
    let runner: OpenCodeServerRunner;
    before(() => {
      runner = new OpenCodeServerRunner({
        timeout_sec: 60,
        model: 'fake/m',
        config: fakeOpenCodeConfig(fake.url),
        state_dir: path.join(root, 'server-state'),
      });
    });
    after(async () => {
      const url = runner?.url;
      await runner?.shutdown();
      if (url) {
        // The managed server is gone.
        await assert.rejects(fetch(`${url}/global/health`));
      }
    });

    let firstWorkspace: string;
    let firstOutcome: AgentOutcome;

    it('runs a scripted write + bash + text conversation; result from the real messages, progress live', async () => {
      firstWorkspace = newWorkspace(root, 'srv');
      const record: { finalAskedAt?: number } = {};
      fake.setScript(timedScript(record));
      const before = fake.mainRequests().length;
      const { task, progress } = makeTask(firstWorkspace, { prompt: 'Server first task: write hello.txt', title: 'server test' });
      firstOutcome = await runner.run(task);
      assertScriptedOutcome(firstOutcome, firstWorkspace);
      assertLiveProgress(progress, record);
      const requests = fake.mainRequests().slice(before);
      assert.equal(requests.length, 3);
      assert.ok(userTexts(requests[0]!.body).some((t) => t.includes('Server first task: write hello.txt')));
      assert.equal(requests[0]!.body.model, 'm'); // the configured model was sent with the prompt
    });

    it('the managed server listens on 127.0.0.1 and requires its password', async () => {
      const url = runner.url!;
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const response = await fetch(`${url}/session`);
      assert.equal(response.status, 401);
    });

    it('a wrong server password is a non-retryable CodingError auth that does not show the password', async () => {
      const wrong = new OpenCodeServerRunner({ url: runner.url!, password: 'not-the-password-42', timeout_sec: 10, state_dir: path.join(root, 'unused') });
      try {
        await assert.rejects(wrong.run(makeTask(newWorkspace(root, 'srv-auth')).task), (error: unknown) => {
          assert.ok(error instanceof CodingError, String(error));
          assert.equal(error.kind, 'auth');
          assert.equal(error.retryable, false);
          assert.ok(error.message.includes(runner.url!));
          assert.ok(!error.message.includes('not-the-password-42'));
          return true;
        });
      } finally {
        await wrong.shutdown();
      }
    });

    it('continues the same OpenCode session on the next task', async () => {
      assert.ok(firstOutcome, 'first test did not run');
      const before = fake.mainRequests().length;
      fake.setScript(() => ({ text: 'Second server answer.' }));
      const outcome = await runner.run(
        makeTask(firstWorkspace, { prompt: 'Server second task', backend_session_id: firstOutcome.backend_session_id }).task,
      );
      assert.equal(outcome.success, true, outcome.error);
      assert.equal(outcome.summary, 'Second server answer.');
      assert.equal(outcome.backend_session_id, firstOutcome.backend_session_id);
      assert.equal(outcome.tool_calls.length, 0);
      assert.equal(outcome.tokens.input, 100); // only this turn's step is counted
      const requests = fake.mainRequests().slice(before);
      assert.equal(requests.length, 1);
      assert.deepEqual(userTexts(requests[0]!.body), ['Server first task: write hello.txt', 'Server second task']);
      const assistantTexts = requests[0]!.body.messages.filter((m: any) => m.role === 'assistant').map((m: any) => m.content);
      assert.ok(assistantTexts.includes('Done: wrote the file and listed the directory.'));
    });

    it('an unknown session is a clear not_found naming it (a retry then starts a new conversation)', async () => {
      await assertUnknownSessionNamed(runner, newWorkspace(root, 'server-unknown'));
    });

    it('runs two tasks concurrently in two workspaces on one server without cross-talk', async () => {
      const a = newWorkspace(root, 'srv-a');
      const b = newWorkspace(root, 'srv-b');
      // Slow every model answer down a little so that the two conversations really overlap.
      const base = defaultScript();
      fake.setScript((ctx) => ({ ...base(ctx), stallMs: 300 }));
      const ta = makeTask(a, { prompt: 'task in A' });
      const tb = makeTask(b, { prompt: 'task in B' });
      const [oa, ob] = await Promise.all([runner.run(ta.task), runner.run(tb.task)]);
      assertScriptedOutcome(oa, a);
      assertScriptedOutcome(ob, b);
      assert.notEqual(oa.backend_session_id, ob.backend_session_id);
      // Each saw only its own workspace: tool inputs, outputs and live progress.
      for (const [outcome, progress, own, other] of [
        [oa, ta.progress, a, b],
        [ob, tb.progress, b, a],
      ] as const) {
        const text = JSON.stringify(outcome.tool_calls) + JSON.stringify(progress);
        assert.ok(text.includes(own));
        assert.ok(!text.includes(other), `cross-talk: ${text}`);
        assert.equal(progress.filter((p) => p.kind === 'tool_call').length, 2, JSON.stringify(progress));
      }
    });

    it('cancel during a stalled model aborts on the server, ends within seconds, and the session stays usable', async () => {
      const workspace = newWorkspace(root, 'srv-cancel');
      const first = await runner.run(makeTask(workspace, { prompt: 'prepare' }).task);
      assert.equal(first.success, true, first.error);
      const controller = new AbortController();
      let abortedAt = 0;
      fake.setScript(() => {
        setTimeout(() => {
          abortedAt = Date.now();
          controller.abort();
        }, 300);
        return { stallMs: 120_000 };
      });
      const outcome = await runner.run(
        makeTask(workspace, { prompt: 'stall please', signal: controller.signal, backend_session_id: first.backend_session_id }).task,
      );
      const took = Date.now() - abortedAt;
      assert.ok(abortedAt > 0, 'the model was never asked');
      assert.equal(outcome.success, false);
      assert.equal(outcome.error, 'cancelled');
      assert.ok(took < 5_000, `cancel took ${took} ms`);

      fake.setScript(() => ({ text: 'Back again.' }));
      const after = await runner.run(makeTask(workspace, { prompt: 'after cancel', backend_session_id: first.backend_session_id }).task);
      assert.equal(after.success, true, after.error);
      assert.equal(after.summary, 'Back again.');
    });

    it('a turn left running in its session by a dead attempt is stopped before the next prompt', async () => {
      const workspace = newWorkspace(root, 'srv-leftover');
      const first = await runner.run(makeTask(workspace, { prompt: 'prepare' }).task);
      assert.equal(first.success, true, first.error);
      // The attempt of a worker that died: nobody will stop it, its model call hangs.
      fake.setScript(() => ({ stallMs: 120_000 }));
      const before = fake.mainRequests().length;
      const leftover = runner.run(makeTask(workspace, { prompt: 'stall please', backend_session_id: first.backend_session_id }).task);
      for (let i = 0; fake.mainRequests().length === before; i++) {
        assert.ok(i < 300, 'the stalled model call never came');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      fake.setScript(() => ({ text: 'Continued.' }));
      const started = Date.now();
      const next = await runner.run(makeTask(workspace, { prompt: 'continue', backend_session_id: first.backend_session_id }).task);
      assert.equal(next.success, true, next.error);
      assert.equal(next.summary, 'Continued.');
      assert.ok(Date.now() - started < 20_000, `took ${Date.now() - started} ms`);
      assert.equal((await leftover).success, false, 'the leftover turn was stopped');
    });

    it('times out a stalled model: abort on the server and error "timed out after Ns"', async () => {
      const workspace = newWorkspace(root, 'srv-timeout');
      fake.setScript(() => ({ stallMs: 120_000 }));
      const started = Date.now();
      const outcome = await runner.run(makeTask(workspace, { timeout_ms: 3_000 }).task);
      assert.equal(outcome.success, false);
      assert.equal(outcome.error, 'timed out after 3s');
      assert.ok(Date.now() - started < 9_000);
    });

    it('a provider 401 is a non-retryable CodingError of kind provider with the provider message', async () => {
      const workspace = newWorkspace(root, 'srv-401');
      fake.setScript(() => ({ status: 401, errorMessage: 'Incorrect API key provided: test-key' }));
      await assert.rejects(runner.run(makeTask(workspace).task), (error: unknown) => {
        assert.ok(error instanceof CodingError, String(error));
        assert.equal(error.kind, 'provider');
        assert.equal(error.retryable, false);
        assert.match(error.message, /Incorrect API key provided/);
        return true;
      });
    });

    it('never sends a prompt twice: a lost response to prompt_async is checked against the session messages', async () => {
      // A proxy in front of the managed server that forwards the first prompt_async but answers 502.
      const target = new URL(runner.url!);
      let promptPosts = 0;
      const proxy = http.createServer((req, res) => {
        const upstream = http.request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
          (up) => {
            const isPrompt = req.method === 'POST' && /\/prompt_async/.test(req.url ?? '');
            if (isPrompt) promptPosts += 1;
            if (isPrompt && promptPosts === 1) {
              up.resume();
              up.on('end', () => {
                res.writeHead(502, { 'content-type': 'text/plain' });
                res.end('bad gateway');
              });
              return;
            }
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const viaProxy = new OpenCodeServerRunner({
        url: proxyUrl,
        password: (runner as any).password,
        timeout_sec: 60,
        model: 'fake/m',
        state_dir: path.join(root, 'unused'),
      });
      try {
        const workspace = newWorkspace(root, 'srv-once');
        const before = fake.mainRequests().length;
        const outcome = await viaProxy.run(makeTask(workspace, { prompt: 'exactly once please' }).task);
        assertScriptedOutcome(outcome, workspace);
        assert.equal(promptPosts, 1, 'the prompt was posted again');
        const requests = fake.mainRequests().slice(before);
        assert.equal(requests.length, 3);
        for (const r of requests) assert.deepEqual(userTexts(r.body), ['exactly once please']);
      } finally {
        await viaProxy.shutdown();
        proxy.closeAllConnections();
        await new Promise<void>((resolve) => proxy.close(() => resolve()));
      }
    });

    it('a permission ask is answered (rejected) at once instead of hanging the task', async () => {
      const asking = new OpenCodeServerRunner({
        timeout_sec: 30,
        model: 'fake/m',
        config: { ...fakeOpenCodeConfig(fake.url), permission: { bash: 'ask' } },
        state_dir: path.join(root, 'server-ask-state'),
      });
      try {
        const workspace = newWorkspace(root, 'srv-ask');
        const { task, progress } = makeTask(workspace);
        const outcome = await asking.run(task);
        assert.equal(outcome.success, true, outcome.error);
        const bash = outcome.tool_calls.find((c) => c.tool === 'bash');
        assert.ok(bash);
        assert.equal(bash.output, undefined);
        assert.match(bash.error ?? '', /rejected permission/);
        assert.ok(progress.some((p) => p.kind === 'text' && /permission 'bash' asked and rejected/.test(p.text)));
        assert.equal(outcome.summary, 'Done: wrote the file and listed the directory.');
      } finally {
        await asking.shutdown();
      }
    });

    it('shutdown() ends a running task promptly and stops the managed server (runs last)', async () => {
      const workspace = newWorkspace(root, 'srv-shutdown');
      const url = runner.url!;
      let asked!: () => void;
      const modelAsked = new Promise<void>((resolve) => (asked = resolve));
      fake.setScript(() => {
        asked();
        return { stallMs: 120_000 };
      });
      const running = runner.run(makeTask(workspace).task);
      await modelAsked;
      const started = Date.now();
      await runner.shutdown();
      const outcome = await running;
      assert.ok(Date.now() - started < 8_000, `shutdown took ${Date.now() - started} ms`);
      assert.equal(outcome.success, false);
      assert.match(outcome.error ?? '', /shutting down/);
      await assert.rejects(fetch(`${url}/global/health`));
      assert.deepEqual(processesMentioning(`--port ${new URL(url).port}`), []);
    });

    it('an unreachable server is a retryable CodingError unavailable naming the URL', async () => {
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
      await new Promise<void>((resolve) => closed.close(() => resolve()));
      const down = new OpenCodeServerRunner({ url, timeout_sec: 10, model: 'fake/m', state_dir: path.join(root, 'unused') });
      try {
        await assert.rejects(down.run(makeTask(newWorkspace(root, 'srv-down')).task), (error: unknown) => {
          assert.ok(error instanceof CodingError, String(error));
          assert.equal(error.kind, 'unavailable');
          assert.equal(error.retryable, true);
          assert.ok(error.message.includes(url), error.message);
          return true;
        });
      } finally {
        await down.shutdown();
      }
    });
  });
});
