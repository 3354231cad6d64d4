// Every git side effect is safe to run twice: a real worker process is killed (SIGKILL) right after the side
// effect and before its activity completes (support/kill-after.ts, loaded into that worker only), a new worker process with the
// same worker_id takes over, and the retry returns what the first attempt did. Stale git locks left by a dead git
// never block a session. Real Temporal, real git server.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { CodingClient } from '../src/client/client.js';
import { LocalWorkspace } from '../src/git/workspace.js';
import { LocalBackendRegistry } from '../src/host/registry.js';
import type { ProgressEvent } from '../src/contract.js';
import { BIN, getWorld, ROOT, type World } from './support/world.js';
import { git, processesIn, waitFor } from './support/helpers.js';
import { onlyOneCanPass, RESULT_CHECKS } from './support/best-of-scripts.js';
import { defaultScript } from './support/fake-anthropic.js';
import { copilotScript, defaultScript as openaiScript, qwenScript } from './support/fake-openai.js';
import { defaultScript as codexScript } from './support/fake-responses.js';
import { defaultScript as geminiScript, userTexts as geminiUserTexts } from './support/fake-gemini.js';

const KILL_AFTER = join(ROOT, 'dist', 'test', 'support', 'kill-after.js');

describe('crash safety of git operations', function () {
  let w: World;
  let client: CodingClient;
  let config: string;
  const workers: ChildProcess[] = [];

  before(async () => {
    w = await getWorld();
    const taskQueue = `crash-${Date.now()}`;
    config = join(mkdtempSync(join(tmpdir(), 'station-config-')), 'config.yaml');
    writeFileSync(config, YAML.stringify({ coding: { ...w.rawConfig, temporal: { address: w.temporal.address, task_queue: taskQueue, worker_id: 'crash-host' } } }));
    client = new CodingClient(w.connection, { namespace: 'default', taskQueue });
  });
  afterEach(() => {
    for (const worker of workers.splice(0)) worker.kill('SIGKILL');
  });

  /** A worker process; with `killAfter` it dies (SIGKILL) right after that operation's side effect. */
  function startWorker(killAfter?: string): ChildProcess {
    const fault = killAfter ? { STATION_FAULT_KILL_AFTER: killAfter, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${KILL_AFTER}`.trim() } : {};
    const env = { ...process.env, STATION_CONFIG: config, ...fault };
    const worker = spawn('node', [BIN.stationCoding, 'worker'], { env, stdio: 'ignore' });
    workers.push(worker);
    return worker;
  }
  const exited = (worker: ChildProcess) => new Promise<NodeJS.Signals | null>((resolve) => worker.once('exit', (_code, signal) => resolve(signal)));

  for (const killAfter of ['branch', 'commit'] as const) {
    it(`a worker killed right after the ${killAfter}: the retry on a restarted worker returns the first attempt's result, once`, async () => {
      const repo = `crash-${killAfter}`;
      const url = await w.git.createRepo(repo);
      const dying = startWorker(killAfter);
      const { session_id, workspace_path } = await client.open({ repo_url: url });
      let commitFirst: Awaited<ReturnType<CodingClient['commit']>> | undefined;
      if (killAfter === 'commit') await client.branch({ session_id, branch: 'feature/crash', create: true });
      writeFileSync(join(workspace_path, 'crash.txt'), 'written before the crash\n');
      const headBefore = git(workspace_path, 'rev-parse', 'HEAD');

      const died = exited(dying);
      const pending = killAfter === 'branch' ? client.branch({ session_id, branch: 'feature/crash', create: true }) : client.commit({ session_id, message: 'Survive a crash' });
      assert.equal(await died, 'SIGKILL', 'the worker died after the side effect');
      // The side effect happened: the branch is checked out, or the commit exists.
      if (killAfter === 'branch') assert.equal(git(workspace_path, 'branch', '--show-current'), 'feature/crash');
      else assert.notEqual(git(workspace_path, 'rev-parse', 'HEAD'), headBefore);
      const madeByFirstAttempt = git(workspace_path, 'rev-parse', 'HEAD');

      startWorker(); // same worker_id: it serves the session's queue again
      const result = await pending;
      if (killAfter === 'branch') {
        assert.deepEqual(result, { success: true, branch: 'feature/crash', created: true, previous_branch: 'main' });
        commitFirst = await client.commit({ session_id, message: 'After the crash' });
        assert.equal(commitFirst.files_changed, 1);
      } else {
        const commit = result as Awaited<ReturnType<CodingClient['commit']>>;
        assert.equal(commit.commit_hash, madeByFirstAttempt, 'the retry returns the commit the first attempt made');
        assert.deepEqual({ files_changed: commit.files_changed, insertions: commit.insertions, deletions: commit.deletions }, { files_changed: 1, insertions: 1, deletions: 0 });
        assert.equal(git(workspace_path, 'rev-list', '--count', `${headBefore}..HEAD`), '1', 'exactly one commit');
      }
      const status = await client.status(session_id);
      assert.equal(status.state, 'open');
      await client.close({ session_id });
    });
  }

  it('an operation run again under its key (the local activity, then the activity on the workspace worker) returns what it did; another key does not', async () => {
    const url = await w.git.createRepo('crash-same-key');
    const workspace = LocalWorkspace.fromConfig(w.config);
    const ref = { session_id: 'same-key', ...(await workspace.open({ session_id: 'same-key', repo_url: url }, AbortSignal.timeout(60_000))) };
    const signal = AbortSignal.timeout(60_000);
    // A name git allows that looks like the end of a commit summary's "[branch hash]".
    const branch = { branch: `feature/${'a'.repeat(40)}]x`, create: true };
    const created = await workspace.branch(ref, branch, signal, { key: 'op-1' });
    assert.deepEqual(await workspace.branch(ref, branch, signal, { key: 'op-1' }), created, 'the same operation again: its result');
    await assert.rejects(workspace.branch(ref, branch, signal, { key: 'op-2' }), /already exists/, 'another operation: refused');

    writeFileSync(join(ref.workspace_path, 'same-key.txt'), 'x\n');
    const commit = { message: 'Same key', add_all: true };
    const committed = await workspace.commit(ref, commit, signal, { key: 'op-3' });
    assert.equal(committed.commit_hash, git(ref.workspace_path, 'rev-parse', 'HEAD'));
    assert.equal(committed.branch, branch.branch);
    assert.deepEqual({ files: committed.files_changed, insertions: committed.insertions }, { files: 1, insertions: 1 });
    assert.deepEqual(await workspace.commit(ref, commit, signal, { key: 'op-3' }), committed, 'the same commit, not a second one');
    // Something wrote to the workspace between the attempts: the retry still answers with its own commit.
    writeFileSync(join(ref.workspace_path, 'written-between.txt'), 'y\n');
    assert.deepEqual(await workspace.commit(ref, commit, signal, { key: 'op-3' }), committed, 'still the first commit');
    assert.match(git(ref.workspace_path, 'status', '--porcelain'), /written-between\.txt/, 'the later file is left uncommitted');
    await assert.rejects(workspace.commit(ref, { message: 'Other', add_all: false }, signal, { key: 'op-4' }), /nothing to commit/);
    rmSync(ref.workspace_path, { recursive: true, force: true });
  });

  for (const backend of ['claudecode', 'opencode-cli', 'codex', 'gemini', 'qwen', 'copilot'] as const) {
    it(`SIGTERM to a worker during a task hands the task over (${backend}): it continues on the restarted worker in the same conversation, from its baseline, and is recorded once, as done`, async () => {
      const model = backend === 'claudecode' ? w.claude : backend === 'codex' ? w.responses : backend === 'gemini' ? w.gemini : w.openai;
      const url = await w.git.createRepo(`crash-sigterm-${backend}`);
      const first = startWorker();
      if (backend === 'qwen') w.openai.setScript(qwenScript());
      if (backend === 'copilot') w.openai.setScript(copilotScript());
      const { session_id, workspace_path } = await client.open({ repo_url: url, backend });
      // A task before, so the interrupted one continues a conversation it was given (not one it created).
      assert.equal((await client.code({ session_id, instruction: 'Warm up' })).success, true);
      // Longer than the worker's 10 s shutdown grace, so the running attempt is stopped, not waited for.
      const script = { file: 'handover.txt', content: 'x\n', command: 'sleep 20', finalText: 'Done after the handover.' };
      if (backend === 'claudecode') w.claude.setScript(defaultScript(script));
      else if (backend === 'codex') w.responses.setScript(codexScript(script));
      else if (backend === 'gemini') w.gemini.setScript(geminiScript(script));
      else if (backend === 'qwen') w.openai.setScript(qwenScript(script));
      else if (backend === 'copilot') w.openai.setScript(copilotScript(script));
      else w.openai.setScript(openaiScript(script));
      try {
        const task = client.code({ session_id, instruction: 'Write then sleep' });
        await waitFor('the task to run in the workspace', () => processesIn(workspace_path).length > 0, 60_000);
        const died = exited(first);
        first.kill('SIGTERM');
        await died;
        startWorker();
        const result = await task;
        assert.equal(result.success, true, result.error);
        // Counted from the first attempt's baseline: the file it wrote before the handover is the task's change.
        assert.deepEqual(result.files_changed, [{ path: 'handover.txt', status: 'added' }]);
        // The retry continued the first attempt's conversation: the model got the task twice in one history,
        // the second time told that it had been interrupted.
        const last = model.mainRequests().filter((r) => JSON.stringify(r.body).includes(workspace_path)).at(-1);
        const prompts = userTexts(last?.body).filter((text) => text.includes('Write then sleep'));
        assert.equal(prompts.length, 2, `the first attempt's prompt and the retry's in one conversation: ${JSON.stringify(prompts).slice(0, 400)}`);
        assert.match(prompts[1]!, /earlier attempt at this task was interrupted/);
        const status = await client.status(session_id);
        assert.deepEqual(
          status.tasks.map((t) => [t.task, t.success]),
          [
            [1, true],
            [2, true],
          ],
          'the interrupted task recorded once, as done (not cancelled)',
        );
        await client.close({ session_id });
      } finally {
        w.claude.setScript(defaultScript());
        w.openai.setScript(openaiScript());
        w.responses.setScript(codexScript());
        w.gemini.setScript(geminiScript());
      }
    });
  }

  for (const backend of ['opencode-cli', 'opencode', 'codex', 'gemini', 'qwen', 'copilot'] as const) {
    it(`a retried task whose conversation is not on this worker (${backend}) runs in a new one and says so`, async () => {
      const url = await w.git.createRepo(`resume-missing-${backend}`);
      const { session_id, workspace_path } = await w.client.open({ repo_url: url, backend });
      if (backend === 'qwen') w.openai.setScript(qwenScript());
      if (backend === 'copilot') w.openai.setScript(copilotScript());
      const registry = new LocalBackendRegistry(w.config);
      try {
        const progress: ProgressEvent[] = [];
        const outcome = await registry.get(backend).code(
          { session: { session_id, backend, workspace_path, managed: true, repo_url: url }, instruction: 'Write the file', resume: { backend_session_id: 'ses_notonthisworker' } },
          (event) => progress.push(event),
          AbortSignal.timeout(120_000),
        );
        assert.equal(outcome.success, true, outcome.error);
        assert.ok(outcome.backend_session_id && outcome.backend_session_id !== 'ses_notonthisworker', outcome.backend_session_id);
        assert.ok(progress.some((p) => p.text.includes('conversation ses_notonthisworker is not on this worker; starting a new conversation')), JSON.stringify(progress));
        assert.deepEqual(outcome.files_changed, [{ path: 'hello.txt', status: 'added' }]);
      } finally {
        w.openai.setScript(openaiScript());
        await registry.shutdown();
        await w.client.close({ session_id });
      }
    });
  }

  it('a worker killed (SIGKILL) during best-of-3 attempts: they go on in their copies on the restarted worker; the same attempt is chosen and exactly its changes applied, once', async () => {
    const url = await w.git.createRepo('crash-best-of');
    const first = startWorker();
    // Every attempt writes its result, then works on for a while: the kill comes in the middle.
    w.claude.setScript(onlyOneCanPass(defaultScript, 2, 'sleep 8'));
    try {
      const { session_id, workspace_path } = await client.open({ repo_url: url, checks: RESULT_CHECKS.slice(0, 1) });
      const task = client.code({ session_id, instruction: 'Write the result', attempts: 3, checks: true });
      const copies = join(w.workspaceBase, '.attempts', `ws_${session_id}`);
      const taskDir = () => readdirSync(copies).map((name) => join(copies, name))[0] ?? copies;
      const busy = () => [1, 2, 3].filter((n) => existsSync(copies) && processesIn(join(taskDir(), `attempt-${n}`)).length > 0).length;
      await waitFor('two attempts to run in their copies', () => busy() >= 2, 60_000);
      const died = exited(first);
      first.kill('SIGKILL');
      await died;
      startWorker();
      const result = await task;
      assert.equal(result.success, true, result.error);
      assert.equal(result.chosen, 2);
      assert.deepEqual(result.attempts!.map((a) => [a.n, a.success]), [[1, false], [2, true], [3, false]]);
      assert.equal(readFileSync(join(workspace_path, 'result.txt'), 'utf8'), 'good\n');
      assert.equal(git(workspace_path, 'status', '--porcelain'), '?? result.txt', 'exactly one set of changes');
      const status = await client.status(session_id);
      assert.deepEqual([status.tasks_run, status.tasks[0]!.chosen], [1, 2], 'recorded once');
      // The attempts' activities ran again after the kill; the choice and the apply ran once.
      const history = JSON.stringify(await client.client.workflow.getHandle(session_id).fetchHistory());
      assert.equal(history.match(/"settleAttempts"/g)?.length, 1, 'one settle scheduled');
      await client.close({ session_id });
    } finally {
      w.claude.setScript(defaultScript());
    }
  });

  it('a worker gone for good: the next operation fails within worker_lost_after_sec naming it, and close ends the session at once', async () => {
    const url = await w.git.createRepo('crash-lost');
    const taskQueue = `lost-${Date.now()}`;
    const configFor = (worker_id: string) => {
      const path = join(mkdtempSync(join(tmpdir(), 'station-config-')), 'config.yaml');
      writeFileSync(path, YAML.stringify({ coding: { ...w.rawConfig, worker_lost_after_sec: 3, temporal: { address: w.temporal.address, task_queue: taskQueue, worker_id } } }));
      return path;
    };
    const lostConfig = configFor('lost-host');
    const lostClient = new CodingClient(w.connection, { namespace: 'default', taskQueue });
    const worker = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: lostConfig }, stdio: 'ignore' });
    workers.push(worker);
    const { session_id, workspace_path } = await lostClient.open({ repo_url: url });
    const died = exited(worker);
    worker.kill('SIGKILL');
    await died;
    // A worker with another worker_id serves the shared queue (workflows), not the lost host's workspaces.
    const other = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: configFor('other-host') }, stdio: 'ignore' });
    workers.push(other);

    const started = Date.now();
    await assert.rejects(lostClient.branch({ session_id, branch: 'feature/lost', create: true }), (err: Error & { type?: string }) => {
      assert.match(err.message, new RegExp(`worker lost-host, which holds the workspace ${workspace_path}, did not pick up the branch in 3s`));
      assert.equal(err.type, 'unavailable');
      return true;
    });
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    const closing = Date.now();
    const closed = await lostClient.close({ session_id });
    assert.equal(closed.workspace_deleted, false);
    assert.ok(Date.now() - closing < 20_000, `close took ${Date.now() - closing} ms`);
    assert.match((await lostClient.status(session_id)).last_error ?? '', /cleanup failed: worker lost-host/);
  });

  it('stale lock files of a dead git never block a commit; a lock a live process holds is left alone', async () => {
    const url = await w.git.createRepo('crash-locks');
    startWorker();
    const { session_id, workspace_path } = await client.open({ repo_url: url, cleanup_policy: 'on_session_end' });
    for (const lock of ['index.lock', 'HEAD.lock', 'refs/heads/main.lock']) writeFileSync(join(workspace_path, '.git', lock), '');
    writeFileSync(join(workspace_path, 'locked.txt'), 'x\n');
    const commit = await client.commit({ session_id, message: 'Despite stale locks' });
    assert.equal(commit.files_changed, 1);

    // A lock some process holds open is a live git's: the commit fails with git's own message, nothing is removed.
    const held = join(workspace_path, '.git', 'index.lock');
    writeFileSync(held, '');
    const holder = spawn('sh', ['-c', `exec 3<"${held}"; sleep 60`], { stdio: 'ignore' });
    workers.push(holder);
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(join(workspace_path, 'locked.txt'), 'y\n');
    await assert.rejects(client.commit({ session_id, message: 'While locked' }), /index\.lock/);
    holder.kill('SIGKILL');
    await client.close({ session_id });
  });
});

/** The texts of the user messages of a recorded model request (Anthropic or OpenAI shape). */
function userTexts(body: any): string[] {
  if (Array.isArray(body?.contents)) return geminiUserTexts(body); // the Gemini API
  // Chat APIs send `messages`; the Responses API (codex) sends `input` items, user messages among them.
  const messages: any[] = Array.isArray(body?.messages) ? body.messages : Array.isArray(body?.input) ? body.input : [];
  return messages
    .filter((m) => m?.role === 'user')
    .map((m) => (typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((c: any) => (typeof c?.text === 'string' ? c.text : '')).join('\n') : ''));
}
