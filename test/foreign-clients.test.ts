// The wire contract tested from outside: sessions driven by clients this project did not write (the Temporal
// Python SDK and the `temporal` CLI), with only the names and JSON docs/contract.md documents. Real Temporal, real
// git server, real backends; the fake model is the only fake.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getWorld, ROOT, type World } from './support/world.js';
import { LOCAL_BACKENDS, git, waitFor } from './support/helpers.js';
import { defaultScript as claudeScript } from './support/fake-anthropic.js';
import { copilotScript, defaultScript as openaiScript, qwenScript } from './support/fake-openai.js';
import { testPython } from './support/setup.js';
import { defaultScript as codexScript } from './support/fake-responses.js';
import { defaultScript as geminiScript } from './support/fake-gemini.js';

const run = promisify(execFile);

describe('clients we did not write', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });
  beforeEach(() => {
    // The default scripted conversation, whatever an earlier test left set.
    w.claude.setScript(claudeScript());
    w.openai.setScript(openaiScript());
    w.responses.setScript(codexScript());
    w.gemini.setScript(geminiScript());
  });

  for (const backend of ['claudecode', 'opencode', 'opencode-cli', 'codex', 'gemini', 'qwen', 'copilot'] as const) {
    it(`Temporal Python SDK: the full session on ${backend}, a bad payload, a named cancel, update-with-start, a bad start`, async () => {
      if (backend === 'qwen') w.openai.setScript(qwenScript());
      if (backend === 'copilot') w.openai.setScript(copilotScript());
      const repo = `python-${backend}`;
      const url = await w.git.createRepo(repo);
      const prefix = `py_${backend.replace('-', '_')}_${Date.now()}`;
      const args = JSON.stringify({ address: w.temporal.address, task_queue: w.config.temporal.task_queue, repo_url: url, backend, prefix });
      // The venv's python with the pinned Temporal Python SDK, which `npm test` sets up (test/support/setup.ts).
      const python = testPython();
      const { stdout } = await run(python, [join(ROOT, 'test', 'clients', 'python_session.py'), args], { timeout: 240_000, maxBuffer: 32 << 20 }).catch(
        (err: Error & { stderr?: string; stdout?: string; signal?: string; code?: number | string }) => {
          if (err.code === 'ENOENT') throw new Error(`${python} is missing: run \`node dist/test/support/setup.js\` (npm test runs it first)`);
          const stderr = err.stderr?.trim().split('\n') ?? [];
          const fatal = stderr.findIndex((line) => line.startsWith('Fatal Python error'));
          const shown = fatal >= 0 ? stderr.slice(fatal, fatal + 12) : stderr.slice(-5);
          throw new Error(
            `the Python client failed (exit ${err.code ?? err.signal}, ${err.stdout?.length ?? 0} bytes of report): ${shown.join(' | ') || err.message}`,
          );
        },
      );
      const report = JSON.parse(stdout);

      assert.deepEqual(report.branch, { success: true, branch: `feature/py-${backend}`, created: true, previous_branch: 'main' });
      assert.equal(report.code.success, true, report.code.error);
      assert.ok(report.code.files_changed.length > 0);
      assert.equal(report.commit.success, true);
      assert.equal(report.push.commit_hash, report.commit.commit_hash);
      // coding_diff before the commit (the task's files, uncommitted) and after it, from origin/main: the same files.
      const changed = (report.code.files_changed as Array<{ path: string }>).map((f) => f.path).sort();
      assert.deepEqual((report.diff.files as Array<{ path: string }>).map((f) => f.path).sort(), changed);
      assert.equal(report.diff.uncommitted, true);
      assert.ok(report.diff.insertions > 0 && report.diff.patch.includes('diff --git'), JSON.stringify(report.diff));
      assert.deepEqual((report.diff_committed.files as Array<{ path: string }>).map((f) => f.path).sort(), changed);
      assert.equal(report.diff_committed.head, report.commit.commit_hash);
      assert.equal(git(w.git.bareDir(repo), 'rev-parse', `feature/py-${backend}`), report.commit.commit_hash, 'the remote has the commit');

      assert.equal(report.bad_payload.type, 'invalid_input');
      assert.match(report.bad_payload.message, /branch: must not contain spaces/);

      assert.equal(report.cancel_first.success, true, 'the first task ran');
      assert.equal(report.cancel_second.success, false);
      assert.equal(report.cancel_second.error, 'cancelled');
      // Tasks are recorded as they end: the cancelled one (3) ended before the one it queued behind (2).
      const tasks = (report.status.tasks as Array<{ task: number; update_id?: string; success: boolean; error?: string }>).sort((a, b) => a.task - b.task);
      assert.deepEqual(
        tasks.map((t) => [t.task, t.success, t.error ?? null]),
        [
          [1, true, null],
          [2, true, null],
          [3, false, 'cancelled'],
        ],
      );
      assert.equal(tasks[2]!.update_id, `${prefix}_full-task-b`);

      assert.equal(report.close.reason, 'closed');
      assert.equal(report.result.close.session_id, `${prefix}_full`);
      assert.equal(report.result.status.state, 'closed');

      assert.equal(report.open.session_id, `${prefix}_uws`);
      assert.equal(report.open.backend, backend);
      assert.equal(report.open.repo_cloned, true);
      assert.equal(report.open_status.scope, 'agent', 'the default scope is applied by the workflow');
      assert.deepEqual(report.found_by_search_attribute, [`${prefix}_uws`]);
      assert.equal(report.close2.workspace_deleted, true);

      assert.equal(report.bad_start.type, 'invalid_input');
      assert.match(report.bad_start.message, /scope: /);
    });
  }

  describe('the temporal CLI', () => {
    const temporal = (...args: string[]) =>
      run(w.temporal.cli, [...args, '--address', w.temporal.address], { timeout: 120_000 }).then(
        (r) => ({ ok: true, out: r.stdout, err: r.stderr }),
        (e: { stdout?: string; stderr?: string }) => ({ ok: false, out: e.stdout ?? '', err: e.stderr ?? '' }),
      );
    const updateJson = async (id: string, name: string, input: unknown) => {
      const r = await temporal('workflow', 'update', 'execute', '--workflow-id', id, '--name', name, '--input', JSON.stringify(input), '--output', 'json');
      assert.ok(r.ok, `update ${name} failed: ${r.err}`);
      return JSON.parse(r.out).result;
    };

    it('start, then branch at once, code, commit, push, status, a bad payload, cancel, close', async () => {
      const repo = 'temporal-cli';
      const url = await w.git.createRepo(repo);
      const id = `cli_${Date.now()}`;
      const tq = w.config.temporal.task_queue;
      const started = await temporal('workflow', 'start', '--type', 'codingSession', '--task-queue', tq, '--workflow-id', id, '--input', JSON.stringify({ repo_url: url, branch: 'main', scope: 'agent' }));
      assert.ok(started.ok, started.err);

      const branch = await updateJson(id, 'branch', { session_id: id, branch: 'feature/x', create: true });
      assert.equal(branch.branch, 'feature/x');
      const code = await updateJson(id, 'code', { instruction: 'Add a greeting file' });
      assert.equal(code.success, true, code.error);
      const commit = await updateJson(id, 'commit', { message: 'Add greeting (temporal CLI)' });
      const push = await updateJson(id, 'push', {});
      assert.equal(push.commit_hash, commit.commit_hash);
      assert.equal(git(w.git.bareDir(repo), 'rev-parse', 'feature/x'), commit.commit_hash);
      const diff = await updateJson(id, 'diff', { base: 'origin/main' });
      assert.deepEqual(diff.files.map((f: { path: string }) => f.path).sort(), code.files_changed.map((f: { path: string }) => f.path).sort());
      assert.equal(diff.head, commit.commit_hash);
      const badDiff = await temporal('workflow', 'update', 'execute', '--workflow-id', id, '--name', 'diff', '--input', '{"max_bytes": 5}');
      assert.equal(badDiff.ok, false);
      assert.match(badDiff.err, /invalid coding_diff input: max_bytes: /);

      const status = await temporal('workflow', 'query', '--workflow-id', id, '--name', 'status', '--output', 'json');
      assert.equal(JSON.parse(status.out).queryResult[0].state, 'open');

      const bad = await temporal('workflow', 'update', 'execute', '--workflow-id', id, '--name', 'commit', '--input', '{"message": ""}');
      assert.equal(bad.ok, false);
      assert.match(bad.err, /invalid coding_commit input: message: must not be empty/);

      // A cancel with no task running or queued cancels nothing, and never the next task.
      assert.ok((await temporal('workflow', 'signal', '--workflow-id', id, '--name', 'cancel')).ok);
      const after = await updateJson(id, 'code', { instruction: 'Add another file' });
      assert.equal(after.success, true, 'a late cancel did not cancel the next task');

      const close = await updateJson(id, 'close', {});
      assert.equal(close.reason, 'closed');
      const described = JSON.parse((await temporal('workflow', 'describe', '--workflow-id', id, '--output', 'json')).out);
      assert.equal(described.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
    });

    for (const backend of LOCAL_BACKENDS) {
      it(`the seed's git workflow on ${backend.name}: start with the backend, branch, code, commit, push, close`, async () => {
        backend.script(w);
        const repo = `temporal-cli-${backend.name}`;
        const url = await w.git.createRepo(repo);
        const id = `cli_${backend.name.replace('-', '_')}_${Date.now()}`;
        const input = { repo_url: url, branch: 'main', scope: 'agent', backend: backend.name };
        const started = await temporal('workflow', 'start', '--type', 'codingSession', '--task-queue', w.config.temporal.task_queue, '--workflow-id', id, '--input', JSON.stringify(input));
        assert.ok(started.ok, started.err);
        await updateJson(id, 'branch', { branch: `feature/${backend.name}`, create: true });
        const code = await updateJson(id, 'code', { instruction: 'Add a greeting file' });
        assert.equal(code.success, true, code.error);
        assert.deepEqual(code.files_changed, [{ path: 'hello.txt', status: 'added' }]);
        assert.equal(code.trace.backend, backend.name);
        assert.ok(code.trace.tokens.input > 0, JSON.stringify(code.trace.tokens));
        const commit = await updateJson(id, 'commit', { message: `Add greeting (${backend.name})` });
        const push = await updateJson(id, 'push', {});
        assert.equal(git(w.git.bareDir(repo), 'rev-parse', `feature/${backend.name}`), push.commit_hash);
        assert.equal(push.commit_hash, commit.commit_hash);
        assert.equal((await updateJson(id, 'close', {})).reason, 'closed');
      });
    }

    it('coding_open as one execute-update-with-start, found by search attribute', async () => {
      const url = await w.git.createRepo('temporal-cli-uws');
      const id = `cli_uws_${Date.now()}`;
      const input = JSON.stringify({ repo_url: url, title: 'from the CLI' });
      const r = await temporal(
        'workflow', 'execute-update-with-start',
        '--update-name', 'open', '--update-input', input,
        '--workflow-id', id, '--type', 'codingSession', '--task-queue', w.config.temporal.task_queue,
        '--id-conflict-policy', 'UseExisting', '--input', input, '--output', 'json',
      );
      assert.ok(r.ok, r.err);
      const opened = JSON.parse(r.out).updateResult ?? JSON.parse(r.out).result;
      assert.equal(opened.session_id, id);
      const list = () =>
        JSON.parse(execFileSync(w.temporal.cli, ['workflow', 'list', '--query', `CodingTitle='from the CLI' AND WorkflowId='${id}'`, '--output', 'json', '--address', w.temporal.address], { encoding: 'utf8' }) || '[]');
      await waitFor('the session to be found by CodingTitle', () => list().length === 1, 20_000);
      await updateJson(id, 'close', {});
    });

    it('a failed open is a FAILED workflow with its reason; later callers are told why', async () => {
      const id = `cli_fail_${Date.now()}`;
      const input = JSON.stringify({ repo_url: `${w.git.url}no-such-repo.git` });
      const opened = await temporal(
        'workflow', 'execute-update-with-start',
        '--update-name', 'open', '--update-input', input,
        '--workflow-id', id, '--type', 'codingSession', '--task-queue', w.config.temporal.task_queue,
        '--id-conflict-policy', 'UseExisting', '--input', input,
      );
      assert.equal(opened.ok, false);
      assert.match(opened.err, /repository not found/);
      const described = JSON.parse((await temporal('workflow', 'describe', '--workflow-id', id, '--output', 'json')).out);
      assert.equal(described.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_FAILED');
      const result = await temporal('workflow', 'result', '--workflow-id', id);
      assert.match(`${result.out}\n${result.err}`, /repository not found/);
      // A later update finds the workflow ended; our client says why.
      await assert.rejects(w.client.code({ session_id: id, instruction: 'x' }), (err: Error & { type?: string }) => {
        assert.match(err.message, new RegExp(`session ${id} could not open: .*repository not found`));
        assert.equal(err.type, 'open_failed');
        return true;
      });
    });

    it('an invalid start input fails the session at once, naming the field', async () => {
      for (const [input, field] of [
        [{ repo_url: 'x', scope: 'galaxy' }, /scope: /],
        [{ cleanup_policy: 'sometimes' }, /cleanup_policy: /],
        [{ session_id: 'another_id' }, /session_id: another_id differs from the workflow id/],
      ] as const) {
        const id = `cli_bad_${Date.now()}`;
        await temporal('workflow', 'start', '--type', 'codingSession', '--task-queue', w.config.temporal.task_queue, '--workflow-id', id, '--input', JSON.stringify(input));
        const result = await temporal('workflow', 'result', '--workflow-id', id);
        assert.match(`${result.out}\n${result.err}`, field);
        const described = JSON.parse((await temporal('workflow', 'describe', '--workflow-id', id, '--output', 'json')).out);
        assert.equal(described.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_FAILED');
      }
    });
  });
});
