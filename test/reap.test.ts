// Nothing leaks, nothing kept is deleted, no work is thrown away (issue 10). Real worker processes killed with
// SIGKILL, the real `claude` and `opencode`, real Temporal, real git; only the language model is scripted.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { WorkflowClient } from '@temporalio/client';
import { CodingClient } from '../src/client/client.js';
import { runTask } from '../src/client/run.js';
import { reapRecordedAgent, recordPath, type AgentRecord } from '../src/process/agent-record.js';
import { procStat } from '../src/process/proc.js';
import { LocalWorkspace } from '../src/git/workspace.js';
import { BIN, getWorld, type World } from './support/world.js';
import { alive, describeProcess, git, processesIn, waitFor } from './support/helpers.js';
import { defaultScript, type FakeScript, type FakeTurn } from './support/fake-anthropic.js';
import { defaultScript as openaiScript } from './support/fake-openai.js';

/** A scripted conversation: the turns in order (each given the agent's working directory), then a final text. */
function turns(...steps: ((cwd: string) => FakeTurn)[]): FakeScript {
  return ({ cwd, turnIndex }) => steps[turnIndex]?.(cwd!) ?? { text: 'Done.' };
}
const bash = (command: string): FakeTurn => ({ tool: { name: 'Bash', input: { command, description: 'run' } } });

describe('reaping and keeping work', function () {
  let w: World;
  const children: ChildProcess[] = [];

  before(async () => {
    w = await getWorld();
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
    w.claude.setScript(defaultScript());
    w.openai.setScript(openaiScript());
  });

  /** A config file for worker processes of their own task queue (so only they serve it). */
  function workerConfig(overrides: Record<string, unknown> = {}): { path: string; client: CodingClient } {
    const taskQueue = `reap-${Date.now()}-${Math.random().toString(16).slice(2, 6)}`;
    const path = join(mkdtempSync(join(tmpdir(), 'station-config-')), 'config.yaml');
    writeFileSync(path, YAML.stringify({ coding: { ...w.rawConfig, ...overrides, temporal: { address: w.temporal.address, task_queue: taskQueue, worker_id: 'reap-host' } } }));
    return { path, client: new CodingClient(w.connection, { namespace: 'default', taskQueue }) };
  }
  function startWorker(config: string): { child: ChildProcess; stderr: () => string } {
    const child = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: config }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    children.push(child);
    return { child, stderr: () => stderr };
  }
  async function kill9(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  it('a worker killed with SIGKILL during a task: its agent dies with it, what the agent started is reaped when the worker restarts, and the retry is the only agent', async () => {
    // Without the sandbox: under bwrap the agent's PID namespace dies with it, so nothing would be left to sweep.
    const { path: config, client } = workerConfig({ sandbox: 'none' });
    const url = await w.git.createRepo('reap-kill');
    const first = startWorker(config);
    const { session_id, workspace_path } = await client.open({ repo_url: url });
    w.claude.setScript(turns((cwd) => ({ tool: { name: 'Write', input: { file_path: join(cwd, 'reaped.txt'), content: 'x\n' } } }), () => bash('sleep 117')));
    const task = client.code({ session_id, instruction: 'Write then sleep' });
    await waitFor('the task to sleep', () => processesIn(workspace_path).some((pid) => describeProcess(pid).includes('sleep 117')), 90_000);
    const record = JSON.parse(readFileSync(recordPath(workspace_path), 'utf8')) as AgentRecord;
    assert.ok(record.agent && alive(record.agent.pid), 'the record names the running agent');
    assert.equal(record.worker.pid, first.child.pid, 'written by the worker running the task');

    await kill9(first.child);
    await waitFor('the agent to die with its worker (parent-death signal)', () => !alive(record.agent!.pid), 5_000);
    const leftover = processesIn(workspace_path);
    assert.ok(leftover.length > 0, 'the agent\'s tool (in its own session) outlives it: what the sweep is for');

    w.claude.setScript(turns(() => bash('true')));
    const second = startWorker(config);
    // The sweep at start reaps it, long before the retry (heartbeat timeout 20 s) starts an agent.
    await waitFor('the restarted worker to reap what the dead task left', () => processesIn(workspace_path).length === 0, 15_000);
    const reapedLine = new RegExp(`killed \\d+ process\\(es\\) a dead worker's task left in ${workspace_path}`);
    await waitFor('the restarted worker to log what it reaped', () => reapedLine.test(second.stderr()), 5_000);
    const result = await task;
    assert.equal(result.success, true, result.error);
    assert.deepEqual(result.files_changed, [{ path: 'reaped.txt', status: 'added' }], 'counted from the first attempt\'s baseline');
    assert.equal(existsSync(recordPath(workspace_path)), false, 'the record is removed when the task ends');
    assert.deepEqual(processesIn(workspace_path), []);
    await client.close({ session_id });
  });

  it('a recorded agent is killed only while it is the same process (start time), and never while its worker lives when asked so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'record-ws-'));
    git(dir, 'init', '--quiet');
    const agent = spawn('sleep', ['116'], { cwd: dir, detached: true, stdio: 'ignore' });
    children.push(agent);
    await waitFor('the agent to run', () => procStat(agent.pid!) !== undefined);
    const stat = procStat(agent.pid!)!;
    const write = (record: AgentRecord) => writeFileSync(recordPath(dir), JSON.stringify(record));
    execFileSync('mkdir', ['-p', join(dir, '.git', 'station')]);
    const me = { pid: process.pid, start: procStat(process.pid)!.start };

    // The pid names another process now (its start time differs): not trusted, not killed. Started before the
    // recorded task, it is not the task's either.
    write({ task_start: String(Number(stat.start) + 1), worker: { pid: 1, start: 'gone' }, agent: { pid: agent.pid!, pgid: stat.pgid, start: String(Number(stat.start) - 1) } });
    assert.equal(await reapRecordedAgent(dir), 0);
    assert.ok(alive(agent.pid!), 'a reused pid is left alone');

    // Its worker (this process) is alive: the start sweep leaves the record and the agent alone.
    write({ task_start: stat.start, worker: me, agent: { pid: agent.pid!, pgid: stat.pgid, start: stat.start } });
    assert.equal(await reapRecordedAgent(dir, { onlyIfWorkerGone: true }), undefined);
    assert.ok(alive(agent.pid!) && existsSync(recordPath(dir)));

    // Before the next attempt: the recorded agent is killed and the record removed.
    assert.ok((await reapRecordedAgent(dir, { graceMs: 500 }))! >= 1);
    await waitFor('the recorded agent to die', () => !alive(agent.pid!), 5_000);
    assert.equal(existsSync(recordPath(dir)), false);
  });

  it("a successful task leaves no process behind (an agent's `nohup ... &`), and the user's own processes in a given workspace live on", async () => {
    // A given workspace lives under an allowed root (the workspace base path by default).
    const dir = mkdtempSync(join(w.workspaceBase, 'user-ws-'));
    const own = spawn('sleep', ['118'], { cwd: dir, stdio: 'ignore' });
    children.push(own);
    const { session_id } = await w.client.open({ workspace_path: dir, init: true });
    w.claude.setScript(turns(() => bash('nohup sleep 1000 >/dev/null 2>&1 & sleep 0.2; echo started'), () => bash('(sleep 999 &) ; echo again')));
    const result = await w.client.code({ session_id, instruction: 'Start background work' });
    assert.equal(result.success, true, result.error);
    assert.deepEqual(processesIn(dir), [own.pid], "nothing of the task's is left; the user's sleep is");
    assert.equal(existsSync(recordPath(dir)), false);
    await w.client.close({ session_id });
  });

  it('a worker-managed `opencode serve` dies with a worker killed with SIGKILL', async () => {
    const { path: config, client } = workerConfig({ backend: 'opencode' });
    const url = await w.git.createRepo('reap-opencode');
    const worker = startWorker(config);
    const { session_id } = await client.open({ repo_url: url });
    const result = await client.code({ session_id, instruction: 'Write a file' });
    assert.equal(result.success, true, result.error);
    const servers = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map(Number)
      .filter((pid) => describeProcess(pid).includes(`(parent ${worker.child.pid})`) && describeProcess(pid).includes('serve'));
    assert.equal(servers.length, 1, 'the worker started one opencode serve');
    await kill9(worker.child);
    await waitFor('opencode serve to die with its worker', () => !alive(servers[0]!), 5_000);
  });

  it('a delete saves what no remote has: a bundle with every branch and the uncommitted changes, and a patch; close and status say where', async () => {
    const url = await w.git.createRepo('reap-save');
    const { session_id, workspace_path } = await w.client.open({ repo_url: url });
    await w.client.branch({ session_id, branch: 'feature/unpushed', create: true });
    writeFileSync(join(workspace_path, 'committed.txt'), 'committed\n');
    const commit = await w.client.commit({ session_id, message: 'Never pushed' });
    writeFileSync(join(workspace_path, 'uncommitted.txt'), 'not committed\n');
    const askedAt = Date.now();
    const closed = await w.client.close({ session_id });
    assert.equal(closed.workspace_deleted, true);
    assert.equal(existsSync(workspace_path), false);
    assert.ok(closed.saved_to?.startsWith(join(w.stateDir, 'saved')), `saved_to: ${closed.saved_to}`);
    assert.equal((await w.client.status(session_id)).saved_to, closed.saved_to);
    // The delete run again (a worker that died after deleting, before it answered) says where the work went.
    const workspace = LocalWorkspace.fromConfig(w.config);
    const ref = { session_id, workspace_path, managed: true };
    assert.deepEqual(await workspace.remove(ref, askedAt), { deleted: true, saved_to: closed.saved_to });
    // A later close of a session that reuses the id is not answered with this session's save.
    assert.deepEqual(await workspace.remove(ref, Date.now() + 60_000), { deleted: true });
    const restored = mkdtempSync(join(tmpdir(), 'restored-'));
    execFileSync('git', ['clone', '--quiet', join(closed.saved_to!, 'workspace.bundle'), restored]);
    assert.equal(git(restored, 'rev-parse', 'origin/feature/unpushed'), commit.commit_hash);
    git(restored, 'fetch', '--quiet', join(closed.saved_to!, 'workspace.bundle'), 'refs/station/uncommitted:refs/heads/uncommitted');
    assert.equal(git(restored, 'show', 'uncommitted:uncommitted.txt'), 'not committed');
    assert.match(readFileSync(join(closed.saved_to!, 'uncommitted.patch'), 'utf8'), /\+not committed/);

    // Nothing to lose: nothing saved.
    const clean = await w.client.open({ repo_url: url });
    const cleanClosed = await w.client.close({ session_id: clean.session_id });
    assert.equal(cleanClosed.workspace_deleted, true);
    assert.equal(cleanClosed.saved_to, undefined);
    assert.deepEqual(await workspace.remove({ session_id: clean.session_id, workspace_path: clean.workspace_path, managed: true }, askedAt), { deleted: true });
  });

  it('a re-open of a session id whose workspace was kept re-attaches it (nothing deleted); another repository is refused with the reason', async () => {
    const url = await w.git.createRepo('reap-keep');
    const session_id = `keep-${Date.now()}`;
    const first = await w.client.open({ session_id, repo_url: url, cleanup_policy: 'manual' });
    writeFileSync(join(first.workspace_path, 'kept.txt'), 'kept\n');
    await w.client.commit({ session_id, message: 'Kept work' });
    writeFileSync(join(first.workspace_path, 'draft.txt'), 'draft\n');
    assert.equal((await w.client.close({ session_id })).workspace_deleted, false);

    const again = await w.client.open({ session_id, repo_url: url, cleanup_policy: 'manual' });
    assert.equal(again.workspace_path, first.workspace_path);
    assert.equal(readFileSync(join(again.workspace_path, 'draft.txt'), 'utf8'), 'draft\n', 'uncommitted work is still there');
    assert.equal(git(again.workspace_path, 'log', '-1', '--format=%s'), 'Kept work');
    await w.client.close({ session_id });

    const other = await w.git.createRepo('reap-keep-other');
    await assert.rejects(w.client.open({ session_id, repo_url: other }), (err: Error) => {
      assert.match(err.message, new RegExp(`the workspace ${first.workspace_path} that an earlier session ${session_id} kept holds ${url}, not ${other}`));
      return true;
    });
    assert.ok(existsSync(join(first.workspace_path, 'draft.txt')), 'still kept after the refused open');
  });

  it('a worker start removes the workspaces of ended sessions (saving their work), never a running or kept one, and logs it', async () => {
    const { path: config, client } = workerConfig();
    const url = await w.git.createRepo('reap-sweep');
    const worker = startWorker(config);
    const ended = await client.open({ repo_url: url });
    writeFileSync(join(ended.workspace_path, 'lost-unless-saved.txt'), 'x\n');
    const running = await client.open({ repo_url: url });
    const kept = await client.open({ repo_url: url, cleanup_policy: 'manual' });
    await client.close({ session_id: kept.session_id });
    // A session that ends without its cleanup (terminated): its workspace is left behind.
    await new WorkflowClient({ connection: w.connection }).getHandle(ended.session_id).terminate('test');
    await kill9(worker.child);

    const restarted = startWorker(config);
    await waitFor('the sweep to remove the ended session\'s workspace', () => !existsSync(ended.workspace_path), 30_000);
    await waitFor('the sweep to log it', () => restarted.stderr().includes(`removed the workspace ${ended.workspace_path} of ended session ${ended.session_id}`));
    const saved = /its unsaved work is in (\S+)/.exec(restarted.stderr())?.[1];
    assert.ok(saved && existsSync(join(saved, 'workspace.bundle')), restarted.stderr());
    assert.match(readFileSync(join(saved, 'uncommitted.patch'), 'utf8'), /lost-unless-saved\.txt/);
    assert.ok(existsSync(join(running.workspace_path, '.git')), 'a running session keeps its workspace');
    assert.ok(existsSync(join(kept.workspace_path, '.git')), 'a kept workspace is never swept');
    await client.close({ session_id: running.session_id });
  });

  it('run --repo <local path> without --push brings its branch back into that repository', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'user-repo-'));
    git(repo, 'init', '--quiet', '--initial-branch', 'main');
    writeFileSync(join(repo, 'README.md'), 'mine\n');
    git(repo, 'add', '.');
    git(repo, '-c', 'user.name=u', '-c', 'user.email=u@x', 'commit', '--quiet', '-m', 'init');
    w.claude.setScript(defaultScript({ file: 'from-run.txt', content: 'brought back\n' }));
    const report = await runTask(w.client, { open: { repo_url: repo }, instruction: 'Write from-run.txt', new_branch: 'feature/back', push: false });
    assert.equal(report.error, undefined);
    assert.deepEqual(report.brought_back, { repository: repo, branch: 'feature/back' });
    assert.equal(git(repo, 'rev-parse', 'feature/back'), report.commit!.commit_hash);
    assert.equal(git(repo, 'show', 'feature/back:from-run.txt'), 'brought back');
    assert.equal(git(repo, 'branch', '--show-current'), 'main', "the user's checkout is untouched");

    // The branch the user has checked out is never moved under them: the work arrives beside it.
    const onMain = await runTask(w.client, { open: { repo_url: repo }, instruction: 'Write from-run.txt', push: false });
    assert.equal(onMain.error, undefined);
    assert.deepEqual(onMain.brought_back, { repository: repo, branch: `station/${onMain.session.session_id}` });
    assert.equal(git(repo, 'rev-parse', `station/${onMain.session.session_id}`), onMain.commit!.commit_hash);
  });
});
