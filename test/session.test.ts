// The session guarantees, proved for every local backend from one table: the seed's full git workflow
// against the private git server, resume, and cancel. Real Temporal, real git, real agent binaries.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getWorld, startVariantWorker, type World } from './support/world.js';
import { LOCAL_BACKENDS, assertCodeResult, describeProcess, git, processesIn, waitFor } from './support/helpers.js';
import type { ProgressEvent } from '../src/contract.js';

for (const backend of LOCAL_BACKENDS) {
  describe(`session on ${backend.name}`, function () {
    let w: World;
    before(async () => {
      w = await getWorld();
    });

    it('runs the full git workflow: clone a private repo, branch, code, commit, push, close', async () => {
      const repo = `full-${backend.name}`;
      const url = await w.git.createRepo(repo, { 'src/app.txt': 'app\n' });
      backend.script(w, { file: 'src/health.txt', content: 'status: ok\n', command: 'sleep 3 && echo ran > ran.txt', finalText: 'Added the health file.' });

      const opened = await w.client.open({ repo_url: url, title: 'Add health', backend: backend.name });
      assert.equal(opened.repo_cloned, true);
      assert.equal(opened.managed, true);
      assert.equal(opened.attached, false);
      assert.equal(opened.backend, backend.name);
      assert.ok(existsSync(join(opened.workspace_path, 'src/app.txt')));
      // The token authenticated the clone, but the workspace remembers only the clean URL.
      assert.equal(git(opened.workspace_path, 'remote', 'get-url', 'origin'), url);
      assert.ok(!readFileSync(join(opened.workspace_path, '.git/config'), 'utf8').includes(w.token));

      const session_id = opened.session_id;
      const branch = await w.client.branch({ session_id, branch: 'feature/health', create: true });
      assert.deepEqual(branch, { success: true, branch: 'feature/health', created: true, previous_branch: 'main' });

      const progress: ProgressEvent[] = [];
      const code = assertCodeResult(
        await w.client.code({ session_id, instruction: 'Add a health file', context: 'A tiny test repo', files: ['src/app.txt'] }, (e) => progress.push(e)),
      );
      assert.equal(code.success, true, code.error);
      assert.match(code.summary, /health file/);
      assert.equal(readFileSync(join(opened.workspace_path, 'src/health.txt'), 'utf8'), 'status: ok\n');
      assert.deepEqual(
        [...code.files_changed].sort((a, b) => a.path.localeCompare(b.path)),
        [
          { path: 'ran.txt', status: 'added' },
          { path: 'src/health.txt', status: 'added' },
        ],
      );
      const tools = code.trace.tool_calls.map((c) => c.tool);
      assert.ok(tools.includes(backend.writeTool) && tools.includes(backend.bashTool), `tool calls: ${tools}`);
      assert.ok(code.trace.tool_calls.every((c) => c.error === undefined));
      assert.ok(code.trace.tokens.input > 0 && code.trace.tokens.output > 0, JSON.stringify(code.trace.tokens));
      assert.ok(code.trace.cost > 0, `cost ${code.trace.cost}`);
      assert.ok(code.trace.session_id, 'backend session id');
      assert.ok(progress.some((e) => e.kind === 'tool_call'), `live progress: ${JSON.stringify(progress)}`);
      // instruction, context and files all reached the model
      const prompt = JSON.stringify(backend.mainRequests(w).at(-1)?.body);
      for (const part of ['Add a health file', 'A tiny test repo', 'src/app.txt']) assert.ok(prompt.includes(part), `prompt lacks ${part}`);

      const commit = await w.client.commit({ session_id, message: 'Add health file', add_all: true });
      assert.equal(commit.success, true);
      assert.match(commit.commit_hash, /^[0-9a-f]{40}$/);
      assert.deepEqual({ files: commit.files_changed, ins: commit.insertions, del: commit.deletions }, { files: 2, ins: 2, del: 0 });

      const push = await w.client.push({ session_id, remote: 'origin', branch: 'feature/health', set_upstream: true });
      assert.deepEqual(push, { success: true, remote: 'origin', branch: 'feature/health', commit_hash: commit.commit_hash, set_upstream: true });
      assert.equal(w.git.git(repo, 'rev-parse', 'refs/heads/feature/health').trim(), commit.commit_hash);
      assert.equal(w.git.git(repo, 'show', 'feature/health:src/health.txt'), 'status: ok\n');
      assert.equal(w.git.git(repo, 'log', '-1', '--format=%an <%ae>|%s', 'feature/health').trim(), 'Test Bot <bot@test.invalid>|Add health file');

      const status = await w.client.status(session_id);
      assert.equal(status.state, 'open');
      assert.equal(status.branch, 'feature/health');
      assert.equal(status.tasks_run, 1);
      assert.equal(status.cost, code.trace.cost);

      const closed = await w.client.close({ session_id, success: true });
      assert.equal(closed.workspace_deleted, true);
      assert.ok(!existsSync(opened.workspace_path));
      assert.equal((await w.client.status(session_id)).state, 'closed');
    });

    it('resumes the backend session: the second task sees the first one', async () => {
      const url = await w.git.createRepo(`resume-${backend.name}`);
      backend.script(w, { file: 'one.txt', content: '1\n', command: 'true', finalText: 'First done.' });
      const { session_id } = await w.client.open({ repo_url: url, backend: backend.name });
      const first = await w.client.code({ session_id, instruction: 'FIRST-INSTRUCTION create one.txt' });
      assert.equal(first.success, true, first.error);
      const before = backend.mainRequests(w).length;

      backend.script(w, { file: 'two.txt', content: '2\n', command: 'true', finalText: 'Second done.' });
      const second = await w.client.code({ session_id, instruction: 'SECOND-INSTRUCTION create two.txt' });
      assert.equal(second.success, true, second.error);
      assert.equal(second.trace.session_id, first.trace.session_id);
      const later = backend.mainRequests(w).slice(before);
      assert.ok(later.length > 0);
      const conversation = JSON.stringify(later[0]!.body);
      assert.ok(conversation.includes('FIRST-INSTRUCTION'), 'the resumed conversation carries the first task');
      assert.ok(conversation.includes('SECOND-INSTRUCTION'));
      assert.deepEqual(second.files_changed, [{ path: 'two.txt', status: 'added' }]);
      await w.client.close({ session_id });
    });

    it('cancel kills the running task and its process tree; the session stays usable', async () => {
      const url = await w.git.createRepo(`cancel-${backend.name}`);
      backend.script(w, { file: 'before.txt', content: 'x\n', command: 'sleep 120', finalText: 'never' });
      const { session_id, workspace_path } = await w.client.open({ repo_url: url, backend: backend.name });
      const started = Date.now();
      const running = w.client.code({ session_id, instruction: 'Write then sleep' });
      await waitFor('the sleep command to run in the workspace', () => processesIn(workspace_path).length > 0, 60_000);
      await w.client.cancel(session_id);
      const result = assertCodeResult(await running);
      assert.equal(result.success, false);
      assert.equal(result.error, 'cancelled');
      assert.ok(Date.now() - started < 60_000);
      await waitFor('no process left in the workspace', () => processesIn(workspace_path).length === 0, 10_000);

      backend.script(w, { file: 'after.txt', content: 'y\n', command: 'true', finalText: 'Done after cancel.' });
      const after = await w.client.code({ session_id, instruction: 'Now write after.txt' });
      assert.equal(after.success, true, after.error);
      const status = await w.client.status(session_id);
      assert.equal(status.tasks_run, 2);
      assert.deepEqual(
        status.tasks.map((t) => t.success),
        [false, true],
      );
      await w.client.close({ session_id });
    });

    it('a task that runs past its timeout is stopped, reported, and the session stays usable', async () => {
      // Room for the quick task after it: opencode-cli alone takes 5-10 s to start on a loaded 2-core machine.
      const variant = await startVariantWorker(w, { task_timeout_min: 0.25, claudecode: { timeout_sec: 15 }, cli: { timeout_sec: 15 } });
      try {
        const url = await w.git.createRepo(`timeout-${backend.name}`);
        backend.script(w, { file: 'slow.txt', content: 'x\n', command: 'sleep 120', finalText: 'never' });
        const { session_id, workspace_path } = await variant.client.open({ repo_url: url, backend: backend.name });
        const started = Date.now();
        const result = assertCodeResult(await variant.client.code({ session_id, instruction: 'Write then sleep too long' }));
        assert.equal(result.success, false, JSON.stringify(result));
        assert.match(result.error ?? '', /timed out after \d+s/);
        assert.ok(Date.now() - started < 40_000, `took ${Date.now() - started} ms`);
        await waitFor(`no process left in the workspace (${JSON.stringify(processesIn(workspace_path).map(describeProcess))})`, () => processesIn(workspace_path).length === 0, 10_000);
        backend.script(w, { file: 'quick.txt', content: 'y\n', command: 'true', finalText: 'Quick.' });
        const after = await variant.client.code({ session_id, instruction: 'Write quick.txt' });
        assert.equal(after.success, true, after.error);
        await variant.client.close({ session_id });
      } finally {
        await variant.stop();
      }
    });
  });
}
