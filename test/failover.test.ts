// Failover: the worker holding a session's workspace is killed (SIGKILL) for good; the next operation moves the
// session to another worker (another worker_id, another workspace base, the same checkpoint directory), which
// re-creates the workspace with the branch, the unpushed commit and the last task's uncommitted change, and the
// operation runs there. Real worker processes, real Temporal, the token-protected git server, real `claude`.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { Client } from '@temporalio/client';
import { CodingClient } from '../src/client/client.js';
import { BIN, getWorld, type World } from './support/world.js';
import { git, processesIn, waitFor } from './support/helpers.js';
import { killProcessesIn } from '../src/process/proc.js';
import { defaultScript } from './support/fake-anthropic.js';

/** Short in the test; the default is 60 s ($FAILOVER_LOST_AFTER_SEC measures another value). */
const LOST_AFTER_SEC = Number(process.env.FAILOVER_LOST_AFTER_SEC ?? 8);

describe('failover to another worker when the workspace’s worker is gone for good', function () {
  let w: World;
  const workers: ChildProcess[] = [];
  const bases: string[] = [];

  before(async () => {
    w = await getWorld();
  });
  after(() => {
    for (const worker of workers.splice(0)) worker.kill('SIGKILL');
    // A SIGKILLed worker's agent outlives it (its own process group): the test's leftovers go with the test.
    for (const base of bases) killProcessesIn(base);
    w.claude.setScript(defaultScript());
  });

  /** The session's activities after `since`, from its history: what waited, what ran, how long. */
  async function timeline(sessionId: string, since: number): Promise<string> {
    const history = await new Client({ connection: w.connection }).workflow.getHandle(sessionId).fetchHistory();
    const at = (e: { eventTime?: { seconds?: unknown; nanos?: number | null } | null }) => Number(e.eventTime?.seconds) * 1000 + Math.round((e.eventTime?.nanos ?? 0) / 1e6) - since;
    const names = new Map<string, string>();
    const out: string[] = [];
    for (const e of history.events ?? []) {
      // Names of activities scheduled before the window too: one of them may complete inside it.
      if (e.activityTaskScheduledEventAttributes) names.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      if (at(e) < -1000) continue;
      if (e.activityTaskScheduledEventAttributes) {
        out.push(`${names.get(String(e.eventId))} scheduled ${at(e)}`);
      }
      const ref = e.activityTaskStartedEventAttributes ?? e.activityTaskCompletedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (ref) {
        const what = e.activityTaskStartedEventAttributes ? 'started' : e.activityTaskCompletedEventAttributes ? 'completed' : 'timed out';
        out.push(`${names.get(String(ref.scheduledEventId))} ${what} ${at(e)}`);
      }
    }
    return out.join(', ');
  }

  /** Two worker configs on one task queue: different worker_ids and workspace bases, one checkpoint directory. */
  function cluster() {
    const taskQueue = `failover-${Date.now()}`;
    const checkpoints = mkdtempSync(join(tmpdir(), 'station-checkpoints-'));
    const base = { a: mkdtempSync(join(tmpdir(), 'station-ws-a-')), b: mkdtempSync(join(tmpdir(), 'station-ws-b-')) };
    bases.push(base.a, base.b);
    const startWorker = (name: 'a' | 'b') => {
      const config = join(mkdtempSync(join(tmpdir(), 'station-config-')), 'config.yaml');
      const coding = {
        ...w.rawConfig,
        workspace_base_path: base[name],
        worker_lost_after_sec: LOST_AFTER_SEC,
        checkpoint: { dir: checkpoints },
        temporal: { address: w.temporal.address, task_queue: taskQueue, worker_id: `failover-${name}` },
      };
      writeFileSync(config, YAML.stringify({ coding }));
      const worker = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: config }, stdio: 'ignore' });
      workers.push(worker);
      return worker;
    };
    const kill = async (worker: ChildProcess) => {
      const died = new Promise((resolve) => worker.once('exit', resolve));
      worker.kill('SIGKILL');
      await died;
    };
    return { client: new CodingClient(w.connection, { namespace: 'default', taskQueue }), checkpoints, base, startWorker, kill };
  }

  it('the next operation re-creates the workspace on worker B with the branch, the unpushed commit and the uncommitted change, runs there, and push lands it all', async () => {
    const { client, checkpoints, base, startWorker, kill } = cluster();
    const repo = 'failover';
    const url = await w.git.createRepo(repo);

    const a = startWorker('a');
    const { session_id, workspace_path: onA } = await client.open({ repo_url: url });
    assert.ok(onA.startsWith(`${base.a}/`));
    await client.branch({ session_id, branch: 'feature/failover', create: true });
    w.claude.setScript(defaultScript({ file: 'first.txt', content: 'first\n', command: 'true', finalText: 'Wrote first.txt.' }));
    assert.equal((await client.code({ session_id, instruction: 'Write first.txt' })).success, true);
    const first = await client.commit({ session_id, message: 'First, never pushed from A' });
    w.claude.setScript(defaultScript({ file: 'second.txt', content: 'second\n', command: 'true', finalText: 'Wrote second.txt.' }));
    const second = await client.code({ session_id, instruction: 'Write second.txt' });
    assert.deepEqual(second.files_changed, [{ path: 'second.txt', status: 'added' }]);
    assert.equal(readdirSync(checkpoints).filter((f) => f.endsWith('.bundle')).length, 1, 'one checkpoint per session');
    assert.equal(w.git.git(repo, 'branch', '--list', 'feature/failover').trim(), '', 'nothing was pushed');

    // Worker A is gone for good; B (another worker_id, another disk) serves the shared queue.
    await kill(a);
    const killedAt = Date.now();
    startWorker('b');

    const commit = await client.commit({ session_id, message: 'Second, committed on B' });
    const failoverMs = Date.now() - killedAt;
    console.log(`      failover: the commit after the kill completed on worker B ${failoverMs} ms after A died (worker_lost_after_sec ${LOST_AFTER_SEC})`);
    assert.ok(failoverMs < 120_000, `failover took ${failoverMs} ms`);
    console.log(`      where the time went (ms after A died): ${await timeline(session_id, killedAt)}`);
    assert.equal(commit.files_changed, 1, 'the last task’s uncommitted change came along and is committed');

    const status = await client.status(session_id);
    const onB = status.workspace_path!;
    assert.ok(onB.startsWith(`${base.b}/`), `${onB} is on worker B`);
    assert.equal(status.state, 'open');
    assert.equal(status.branch, 'feature/failover');
    assert.deepEqual(
      status.failovers?.map((f) => [f.from, f.to]),
      [['failover-a', 'failover-b']],
    );
    assert.equal(git(onB, 'branch', '--show-current'), 'feature/failover');
    assert.equal(git(onB, 'rev-parse', 'HEAD~1'), first.commit_hash, 'the unpushed commit made on A is under the new one');
    assert.equal(git(onB, 'status', '--porcelain'), '', 'nothing left uncommitted');
    assert.equal(readFileSync(join(onB, 'second.txt'), 'utf8'), 'second\n');

    // The session goes on on B: push lands every commit at the remote.
    const pushed = await client.push({ session_id, set_upstream: true });
    assert.equal(pushed.commit_hash, commit.commit_hash);
    assert.equal(w.git.git(repo, 'rev-parse', 'feature/failover').trim(), commit.commit_hash);
    assert.equal(w.git.git(repo, 'rev-list', '--count', 'main..feature/failover').trim(), '2');
    assert.deepEqual(w.git.git(repo, 'ls-tree', '--name-only', 'feature/failover').trim().split('\n').sort(), ['README.md', 'first.txt', 'second.txt']);

    const closed = await client.close({ session_id });
    assert.equal(closed.workspace_deleted, true);
    assert.ok(!existsSync(onB));
    assert.equal(readdirSync(checkpoints).filter((f) => f.endsWith('.bundle')).length, 0, 'the checkpoint goes with the deleted workspace');
  });

  it('a worker killed during a code task: the task runs again on worker B from the last checkpoint, and the session goes on there', async () => {
    const { client, base, startWorker, kill } = cluster();
    const url = await w.git.createRepo('failover-mid-task');
    const a = startWorker('a');
    const { session_id, workspace_path: onA } = await client.open({ repo_url: url });
    writeFileSync(join(onA, 'before.txt'), 'made before the task\n');
    await client.commit({ session_id, message: 'Before the task' });
    w.claude.setScript(defaultScript({ file: 'during.txt', content: 'during\n', command: 'sleep 20', finalText: 'Wrote during.txt.' }));
    const task = client.code({ session_id, instruction: 'Write during.txt, then sleep' });
    await waitFor('the task to run in the workspace on A', () => processesIn(onA).length > 0, 60_000);
    await kill(a);
    const killedAt = Date.now();
    startWorker('b');
    const result = await task;
    console.log(`      failover mid-task: the task finished on worker B ${Date.now() - killedAt} ms after A died (it sleeps 20 s; worker_lost_after_sec ${LOST_AFTER_SEC})`);
    assert.equal(result.success, true, result.error);
    assert.deepEqual(result.files_changed, [{ path: 'during.txt', status: 'added' }]);
    const status = await client.status(session_id);
    assert.ok(status.workspace_path!.startsWith(`${base.b}/`), `${status.workspace_path} is on worker B`);
    assert.deepEqual(
      status.tasks.map((t) => t.success),
      [true],
      'one task, recorded once',
    );
    const commit = await client.commit({ session_id, message: 'After the move' });
    assert.equal(commit.files_changed, 1);
    assert.equal(git(status.workspace_path!, 'log', '--format=%s', '-2'), 'After the move\nBefore the task', 'the commit made on A is under the one made on B');
    await client.close({ session_id });
  });
});
