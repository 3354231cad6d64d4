// The approval gate end to end, with real parts: a worker process, git over authenticated HTTP, the real claude
// against the fake model, a Temporal dev server on SQLite. A gated push waits; the worker and the Temporal server
// are both killed (SIGKILL) and restarted while it waits; a rejection with feedback comes from the `temporal` CLI
// as the `review` signal, the agent fixes and the fix is committed; the approval comes from the Python SDK as the
// `review` update, and only then does the branch reach the remote.
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { CodingClient } from '../src/client/client.js';
import { portOpen } from '../src/client/embedded-server.js';
import { ROOT } from './support/root.js';
import { testPython } from './support/setup.js';
import { freePort } from './support/temporal-server.js';
import { startWorkerProcess, type WorkerProcess } from './support/worker-process.js';
import { BIN, getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import type { FakeScript } from './support/fake-model.js';
import { git, waitFor } from './support/helpers.js';

const run = promisify(execFile);

/** The text of the current task's prompt: the last user message that is not tool results. */
function promptOf(body: any): string {
  const messages: any[] = body?.messages ?? [];
  const prompt = messages.findLast((m) => m?.role === 'user' && (typeof m.content === 'string' || !m.content?.some?.((b: any) => b?.type === 'tool_result')));
  return typeof prompt?.content === 'string' ? prompt.content : (prompt?.content ?? []).map((b: any) => b?.text ?? '').join('\n');
}

/** The first task writes feature.txt; a task on review feedback writes renamed.txt. */
const reviewedScript: FakeScript = ({ request, cwd, turnIndex }) => {
  const fixing = promptOf(request).includes('rejected the push');
  const file = fixing ? 'renamed.txt' : 'feature.txt';
  if (turnIndex === 0) return { text: `Writing ${file}.`, tool: { name: 'Write', input: { file_path: join(cwd!, file), content: `${file}\n` } } };
  return { text: fixing ? 'Renamed as asked.' : 'Feature written.' };
};

/** A Temporal dev server that keeps its state in SQLite, so it can be killed and started again on the same port. */
function devServer(cli: string, port: number, db: string): ChildProcess {
  return spawn(cli, ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--db-filename', db, '--namespace', 'default', '--log-level', 'error'], {
    stdio: 'ignore',
  });
}

async function until(open: () => Promise<boolean>, what: string): Promise<void> {
  await waitFor(what, open, 60_000);
}

describe('the approval gate, end to end', function () {
  let w: World;
  const cleanup: Array<() => Promise<unknown> | unknown> = [];
  before(async () => {
    w = await getWorld();
  });
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('a gated push survives a worker and a Temporal server kill; a rejection (temporal CLI signal) brings a committed fix; the approval (Python SDK) pushes', async () => {
    const repo = 'approval-loop';
    const url = await w.git.createRepo(repo);
    w.claude.setScript(reviewedScript);
    const dir = mkdtempSync(join(tmpdir(), 'station-approval-'));
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const db = join(dir, 'temporal.db');
    let server = devServer(w.temporal.cli, port, db);
    cleanup.push(() => server.kill('SIGKILL'));
    await until(() => portOpen('127.0.0.1', port), 'the dev server to listen');
    const config = { ...w.rawConfig, temporal: { address, task_queue: 'approval' } };
    let worker: WorkerProcess = await startWorkerProcess(BIN.stationCoding, config, 'approval-host', dir);
    cleanup.push(() => worker.stop());
    const connect = async () => new CodingClient(await Connection.connect({ address }), { namespace: 'default', taskQueue: 'approval' });
    let client = await connect();

    const { session_id, workspace_path } = await client.open({ repo_url: url, require_approval: ['push'], credentials: { token_env: GIT_TOKEN_ENV } });
    await client.branch({ session_id, branch: 'feature/gated', create: true });
    assert.equal((await client.code({ session_id, instruction: 'Write the feature' })).success, true);
    const diff = await client.diff({ session_id });
    assert.deepEqual(diff.files.map((f) => f.path), ['feature.txt']);
    const first = await client.commit({ session_id, message: 'Add the feature' });
    const asked = await client.push({ session_id });
    assert.deepEqual([asked.success, asked.awaiting_approval, asked.commit_hash], [false, true, first.commit_hash]);
    let status = await client.status(session_id);
    assert.equal(status.state, 'awaiting_approval');
    assert.deepEqual([status.awaiting_approval!.files_changed, status.awaiting_approval!.insertions, status.awaiting_approval!.branch], [1, 1, 'feature/gated']);
    assert.equal(w.git.git(repo, 'branch', '--list', 'feature/gated').trim(), '', 'nothing reached the remote');
    await assert.rejects(client.code({ session_id, instruction: 'More' }), /awaiting approval of its push/);

    // Both die while the session waits; both come back.
    process.kill(worker.pid, 'SIGKILL');
    server.kill('SIGKILL');
    await until(async () => !(await portOpen('127.0.0.1', port)), 'the dev server to die');
    server = devServer(w.temporal.cli, port, db);
    await until(() => portOpen('127.0.0.1', port), 'the dev server to listen again');
    worker = await startWorkerProcess(BIN.stationCoding, config, 'approval-host', dir);
    client = await connect();
    await until(async () => (await client.status(session_id).catch(() => undefined))?.state === 'awaiting_approval', 'the session to answer after the restarts');

    // The rejection, from the temporal CLI as the review signal.
    const feedback = 'Rename feature.txt to renamed.txt';
    await run(w.temporal.cli, ['workflow', 'signal', '--address', address, '--workflow-id', session_id, '--name', 'review', '--input', JSON.stringify({ decision: 'reject', feedback, reviewer: 'ana' })]);
    await until(async () => {
      const s = await client.status(session_id);
      return s.state === 'awaiting_approval' && s.awaiting_approval!.round === 2;
    }, 'the fix and the gate waiting again');
    status = await client.status(session_id);
    assert.equal(status.tasks_run, 2);
    assert.match(status.tasks[1]!.instruction, /A reviewer \(ana\) rejected the push/);
    assert.deepEqual(status.reviews!.map((r) => [r.decision, r.reviewer, r.feedback]), [['reject', 'ana', feedback]]);
    assert.match(git(workspace_path, 'log', '-1', '--format=%s'), /^Address review: Rename feature\.txt to renamed\.txt$/);
    assert.equal(status.awaiting_approval!.commit_hash, git(workspace_path, 'rev-parse', 'HEAD'));
    assert.equal(status.awaiting_approval!.files_changed, 2, 'the stat now holds the fix too');

    // The approval, from the Python SDK as the review update: now it is pushed.
    const { stdout } = await run(testPython(), [join(ROOT, 'test', 'clients', 'python_update.py'), JSON.stringify({ address, session_id, update: 'review', input: { decision: 'approve', reviewer: 'ana' } })], { timeout: 120_000 });
    const approved = JSON.parse(stdout);
    assert.equal(approved.result.decision, 'approve');
    assert.equal(approved.result.push.success, true);
    assert.equal(approved.status.state, 'open');
    assert.equal(w.git.git(repo, 'rev-parse', 'feature/gated').trim(), status.awaiting_approval!.commit_hash);
    assert.equal(w.git.git(repo, 'show', 'feature/gated:renamed.txt'), 'renamed.txt\n');
    await client.close({ session_id });
  });
});
