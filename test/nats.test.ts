// opencode-nats end to end: a real nats-server (JetStream, operator mode with a creds file), real coding
// agents as separate processes (`node bin/station-coding.js nats-agent`, claudecode backend against the fake
// Anthropic server), the real Temporal dev server and the authenticated git server.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { getWorld, startVariantWorker, type VariantWorker, type World } from './support/world.js';
import { assertCodeResult, processesIn, waitFor } from './support/helpers.js';
import { defaultScript, workingDirectoryOf } from './support/fake-anthropic.js';
import { startNatsServer, type NatsServer } from './support/nats-server.js';
import { startAgent, type AgentProcess } from './support/nats-agents.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { killProcessesIn } from '../src/process/proc.js';
import { NatsBackend } from '../src/backends/nats/backend.js';
import { TaskRecord, natsNames, sessionKey, type ResultMessage } from '../src/nats/protocol.js';
import { parseCodingConfig } from '../src/config.js';
import type { ProgressEvent } from '../src/contract.js';

const AGENT_TIMEOUT_SEC = 6;
/** An open with no agent alive fails after this (coding.nats.open_wait_sec). */
const OPEN_WAIT_SEC = 12;
/** The session workflow's activity heartbeat timeout: "agent lost" must come before it. */
const HEARTBEAT_TIMEOUT_MS = 20_000;

describe('opencode-nats: coding agents over NATS JetStream', function () {
  let w: World;
  let nats: NatsServer;
  let variant: VariantWorker;
  let tap: NatsConnection;
  let kv: { sessions: KV; state: KV; agents: KV };
  const defaults = parseCodingConfig({}).nats;
  const names = natsNames(defaults);
  const wire: Array<{ subject: string; data: string }> = [];
  const agents = new Map<string, AgentProcess>();

  const agent = async (id: string, opts: { concurrency?: number; base?: string } = {}) => {
    const running = agents.get(id);
    if (running?.running()) return running;
    const started = await startAgent(w, nats, { id, agentTimeoutSec: AGENT_TIMEOUT_SEC, concurrency: opts.concurrency ?? 3, base: opts.base ?? running?.base });
    agents.set(id, started);
    return started;
  };
  const holderOf = (workspace: string) => [...agents.values()].find((a) => workspace.startsWith(`${a.base}/`));
  const stateRecords = async (session: string): Promise<TaskRecord[]> => {
    const out: TaskRecord[] = [];
    for await (const key of await kv.state.keys('task.*')) {
      const entry = await kv.state.get(key);
      if (entry?.operation !== 'PUT') continue;
      const record = TaskRecord.parse(entry.json());
      if (record.session === session) out.push(record);
    }
    return out;
  };

  before(async function () {
    this.timeout(60_000);
    w = await getWorld();
    nats = await startNatsServer(); // fails with "apt-get install -y nats-server" when the binary is missing
    variant = await startVariantWorker(w, {
      backend: 'opencode-nats',
      nats: { url: nats.url, creds_file: nats.credsFile, agent_timeout_sec: AGENT_TIMEOUT_SEC, open_wait_sec: OPEN_WAIT_SEC },
    });
    tap = await connect({ servers: nats.url, authenticator: credsAuthenticator(readFileSync(nats.credsFile)) });
    // Everything that crosses the server, for the "no secret on the wire" check.
    tap.subscribe('>', { callback: (err, msg) => void (err || wire.push({ subject: msg.subject, data: Buffer.from(msg.data).toString('latin1') })) });
  });

  after(async function () {
    this.timeout(60_000);
    await Promise.allSettled([...agents.values()].map((a) => a.stop()));
    for (const a of agents.values()) killProcessesIn(a.base);
    await tap?.close().catch(() => {});
    await variant?.stop().catch(() => {});
    await nats?.stop();
  });

  it('open with no agent alive fails within open_wait_sec with "no coding agent alive on <subject>", recorded and withdrawn from the queue', async () => {
    const url = await w.git.createRepo('nats-no-agent');
    const started = Date.now();
    await assert.rejects(variant.client.open({ repo_url: url, backend: 'opencode-nats', title: 'Nobody home' }), (err: Error) => {
      assert.match(err.message, new RegExp(`no coding agent alive on ${names.sharedSubject.replace(/\./g, '\\.')} for \\d+s \\(coding\\.nats\\.open_wait_sec\\)`));
      assert.match(err.message, /station-coding nats-agent/);
      return true;
    });
    const tookMs = Date.now() - started;
    console.log(`      open with no agent alive failed after ${tookMs} ms (open_wait_sec ${OPEN_WAIT_SEC})`);
    assert.ok(tookMs < (OPEN_WAIT_SEC + 10) * 1000, `took ${tookMs} ms`);
    // Withdrawn: an agent that starts later finds nothing to clone.
    const jsm = await jetstreamManager(tap);
    assert.equal((await jsm.streams.info(names.stream)).state.messages, 0, 'the open task was withdrawn from the queue');
    const state = await new Kvm(tap).open(names.buckets.state);
    const records: TaskRecord[] = [];
    for await (const key of await state.keys('task.*')) records.push(TaskRecord.parse((await state.get(key))!.json()));
    assert.deepEqual(
      records.map((r) => [r.op, r.status, r.error?.code]),
      [['open', 'failed', 'unavailable']],
      'the failure is the task’s record, which answers a late agent',
    );
  });

  it('a task published while no agent runs is done once an agent starts', async () => {
    const url = await w.git.createRepo('nats-early', { 'src/app.txt': 'app\n' });
    let settled = false;
    const opening = variant.client.open({ repo_url: url, backend: 'opencode-nats', title: 'Opened before any agent' });
    void opening.finally(() => (settled = true)).catch(() => {});
    const jsm = await jetstreamManager(tap);
    await waitFor('the open task to wait in the stream', async () => (await jsm.streams.info(names.stream).catch(() => undefined))?.state.messages === 1, 30_000);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(settled, false, 'no agent, no answer');
    const buckets = new Kvm(tap);
    kv = { sessions: await buckets.open(names.buckets.sessions), state: await buckets.open(names.buckets.state), agents: await buckets.open(names.buckets.agents) };

    const a = await agent('agent-a');
    const opened = await opening;
    assert.equal(opened.backend, 'opencode-nats');
    assert.equal(opened.repo_cloned, true);
    assert.ok(opened.workspace_path.startsWith(`${a.base}/`), `${opened.workspace_path} is on agent-a`);
    assert.ok(existsSync(join(opened.workspace_path, 'src/app.txt')));
    // Where the session lives, and that its agent is alive, is visible in the KV buckets.
    const record = (await kv.sessions.get(sessionKey(opened.session_id)))!.json<{ agent: string; workspace: string; backend: string }>();
    assert.deepEqual([record.agent, record.workspace, record.backend], ['agent-a', opened.workspace_path, 'claudecode']);
    const liveness = (await kv.agents.get('agent.agent-a'))?.json<{ incarnation: string; concurrency: number }>();
    assert.equal(liveness?.concurrency, 3);
    assert.equal((await jsm.streams.info(names.stream)).state.messages, 0, 'the work queue is empty once the task is taken');

    const closed = await variant.client.close({ session_id: opened.session_id });
    assert.equal(closed.workspace_deleted, true);
    assert.ok(!existsSync(opened.workspace_path));
    assert.equal((await kv.sessions.get(sessionKey(opened.session_id)))?.operation, 'DEL');
  });

  it('runs the full git workflow through nats (opencode-nats’ general name) with the local backends’ result shape; the agent’s backend in status; no secret on the wire', async () => {
    const a = await agent('agent-a');
    const repo = 'nats-full';
    const url = await w.git.createRepo(repo, { 'src/app.txt': 'app\n' });
    w.claude.setScript(defaultScript({ file: 'src/health.txt', content: 'status: ok\n', command: 'sleep 3 && echo ran > ran.txt', finalText: 'Added the health file.' }));

    const checks = [{ name: 'health', run: 'test -f src/health.txt && grep -q ok src/health.txt && echo "health ok"', timeout_sec: 30 }];
    const opened = await variant.client.open({ repo_url: url, title: 'Add health', backend: 'nats', checks });
    assert.equal(opened.backend, 'nats');
    assert.equal(opened.agent_backend, 'claudecode', 'the local backend of the agent holding the workspace');
    assert.equal((await variant.client.status(opened.session_id)).agent_backend, 'claudecode');
    assert.equal(opened.managed, true);
    assert.equal(opened.attached, false);
    assert.ok(opened.workspace_path.startsWith(`${a.base}/`));
    const session_id = opened.session_id;
    assert.deepEqual(await variant.client.branch({ session_id, branch: 'feature/health', create: true }), {
      success: true,
      branch: 'feature/health',
      created: true,
      previous_branch: 'main',
    });

    const progress: Array<ProgressEvent & { at: number }> = [];
    const code = assertCodeResult(
      await variant.client.code({ session_id, instruction: 'Add a health file', context: 'A tiny test repo', files: ['src/app.txt'] }, (e) =>
        progress.push({ ...e, at: Date.now() }),
      ),
    );
    const doneAt = Date.now();
    assert.equal(code.success, true, code.error);
    assert.match(code.summary, /health file/);
    assert.deepEqual(
      [...code.files_changed].sort((x, y) => x.path.localeCompare(y.path)),
      [
        { path: 'ran.txt', status: 'added' },
        { path: 'src/health.txt', status: 'added' },
      ],
    );
    assert.equal(code.trace.backend, 'nats');
    // The session's checks run on the agent, in the workspace it holds.
    const checked = await variant.client.check({ session_id });
    assert.equal(checked.passed, true, JSON.stringify(checked));
    assert.deepEqual(
      checked.checks.map((c) => [c.name, c.exit_code, c.output_tail.trim()]),
      [['health', 0, 'health ok']],
    );
    const tools = code.trace.tool_calls.map((c) => c.tool);
    assert.ok(tools.includes('Write') && tools.includes('Bash'), `tool calls: ${tools}`);
    assert.ok(code.trace.tokens.input > 0 && code.trace.cost > 0, JSON.stringify(code.trace));
    assert.ok(code.trace.session_id, 'backend session id');
    // Live: the Write call was reported while `sleep 3` still ran, not replayed at the end.
    const write = progress.find((e) => e.kind === 'tool_call' && e.tool === 'Write');
    assert.ok(write, `live progress: ${JSON.stringify(progress)}`);
    assert.ok(doneAt - write.at > 2000, `progress arrived ${doneAt - write.at} ms before the result`);
    const prompt = JSON.stringify(w.claude.mainRequests().at(-1)?.body);
    for (const part of ['Add a health file', 'A tiny test repo', 'src/app.txt']) assert.ok(prompt.includes(part), `prompt lacks ${part}`);

    // coding_diff on the agent's workspace: the task's changes, not yet committed.
    const diff = await variant.client.diff({ session_id });
    assert.deepEqual(diff.files.map((f) => f.path).sort(), code.files_changed.map((f) => f.path).sort());
    assert.match(diff.patch, /^\+status: ok$/m);

    const commit = await variant.client.commit({ session_id, message: 'Add health file', add_all: true });
    assert.match(commit.commit_hash, /^[0-9a-f]{40}$/);
    assert.deepEqual({ files: commit.files_changed, ins: commit.insertions, del: commit.deletions }, { files: 2, ins: 2, del: 0 });
    const push = await variant.client.push({ session_id, remote: 'origin', branch: 'feature/health', set_upstream: true });
    assert.deepEqual(push, { success: true, remote: 'origin', branch: 'feature/health', commit_hash: commit.commit_hash, set_upstream: true });
    assert.equal(w.git.git(repo, 'rev-parse', 'refs/heads/feature/health').trim(), commit.commit_hash);
    assert.equal(w.git.git(repo, 'show', 'feature/health:src/health.txt'), 'status: ok\n');
    assert.equal(w.git.git(repo, 'log', '-1', '--format=%an <%ae>|%s', 'feature/health').trim(), 'Test Bot <bot@test.invalid>|Add health file');

    // The full diff of the task is in the object store; the task record names it.
    const records = await stateRecords(session_id);
    assert.deepEqual(records.map((r) => r.op).sort(), ['branch', 'check', 'code', 'commit', 'diff', 'open', 'push']);
    assert.ok(records.every((r) => r.status === 'done' && r.agent === 'agent-a'));
    const artifact = records.find((r) => r.op === 'code')!.artifacts?.find((x) => x.kind === 'diff');
    assert.ok(artifact, 'diff artifact');
    const blob = await (await new Objm(tap).open(artifact.bucket)).getBlob(artifact.name);
    assert.match(new TextDecoder().decode(blob!), /\+status: ok/);

    const status = await variant.client.status(session_id);
    assert.deepEqual([status.state, status.branch, status.tasks_run, status.cost], ['open', 'feature/health', 1, code.trace.cost]);
    const closed = await variant.client.close({ session_id, success: true });
    assert.equal(closed.workspace_deleted, true);
    assert.ok(!existsSync(opened.workspace_path));

    // Neither the git token nor the NATS credentials ever crossed the server, nor reached a log or the history.
    const forms = [w.token, Buffer.from(`x-access-token:${w.token}`).toString('base64'), ...nats.secrets];
    const history = decodedHistory(w, session_id);
    assert.ok(history.includes('Add a health file'), 'the history is the real one');
    const places: Record<string, string> = {
      'NATS traffic (messages, KV entries, objects)': wire.map((m) => `${m.subject} ${m.data}`).join('\n'),
      'agent logs': a.lines.join('\n'),
      'workflow history': history,
    };
    assert.ok(places['NATS traffic (messages, KV entries, objects)']!.includes('$KV.coding-state.task.'), 'the tap sees KV writes');
    for (const [place, text] of Object.entries(places)) for (const form of forms) assert.ok(!text.includes(form), `a secret appears in the ${place}`);
  });

  it('two agents, eight sessions at once: tasks spread, each run exactly once, each session on its own agent', async () => {
    const [a, b] = [await agent('agent-a'), await agent('agent-b')];
    w.claude.setScript(defaultScript({ file: 'work.txt', content: 'work\n', command: 'true', finalText: 'Wrote work.txt.' }));
    const urls = await Promise.all(Array.from({ length: 8 }, (_, i) => w.git.createRepo(`nats-many-${i}`)));
    const before = w.claude.mainRequests().length;
    const sessions = await Promise.all(
      urls.map(async (url, i) => {
        const opened = await variant.client.open({ repo_url: url, backend: 'opencode-nats' });
        const { session_id } = opened;
        await variant.client.branch({ session_id, branch: `feature/many-${i}`, create: true });
        const code = await variant.client.code({ session_id, instruction: `MANY-TASK-${i}: write work.txt` });
        assert.equal(code.success, true, code.error);
        const commit = await variant.client.commit({ session_id, message: `Many ${i}` });
        assert.equal(commit.files_changed, 1);
        await variant.client.close({ session_id });
        return { i, session_id, workspace: opened.workspace_path };
      }),
    );
    const held = (x: AgentProcess) => sessions.filter((s) => s.workspace.startsWith(`${x.base}/`));
    assert.equal(held(a).length + held(b).length, 8);
    assert.ok(held(a).length >= 1 && held(b).length >= 1, `spread: agent-a ${held(a).length}, agent-b ${held(b).length}`);

    const requests = w.claude.mainRequests().slice(before);
    for (const s of sessions) {
      const mine = requests.filter((r) => JSON.stringify(r.body).includes(`MANY-TASK-${s.i}:`));
      // One run of the scripted task is three model calls (write, bash, final text): never six.
      assert.equal(mine.length, 3, `session ${s.i}: ${mine.length} model calls`);
      for (const r of mine) assert.equal(workingDirectoryOf(r.body), s.workspace, `session ${s.i} coded in its own workspace`);
      // Every operation of the session ran on the agent that opened it, and none on the other.
      const holder = s.workspace.startsWith(`${a.base}/`) ? a : b;
      const other = holder === a ? b : a;
      const ops = holder.events.filter((e) => e.event === 'task_done' && e.session === s.session_id).map((e) => e.op);
      assert.deepEqual(ops, ['open', 'branch', 'code', 'commit', 'close'], `session ${s.i} on ${holder.id}`);
      assert.equal(other.events.filter((e) => e.event === 'task_done' && e.session === s.session_id).length, 0);
    }
    const codeTasks = (x: AgentProcess) => x.events.filter((e) => e.event === 'task_done' && e.op === 'code' && sessions.some((s) => s.session_id === e.session)).length;
    assert.ok(codeTasks(a) >= 1 && codeTasks(b) >= 1, `code tasks: agent-a ${codeTasks(a)}, agent-b ${codeTasks(b)}`);
  });

  it('cancel reaches the agent; SIGKILL of the agent mid-task: "agent lost" in time, nothing runs twice, no duplicate commit', async () => {
    await agent('agent-a');
    await agent('agent-b');
    const repo = 'nats-kill';
    const url = await w.git.createRepo(repo);
    const opened = await variant.client.open({ repo_url: url, backend: 'opencode-nats' });
    const { session_id, workspace_path } = opened;
    const holder = holderOf(workspace_path)!;
    await variant.client.branch({ session_id, branch: 'feature/kill', create: true });

    // Cancel: the signal goes through the workflow, the worker and NATS to the agent, which kills the task.
    w.claude.setScript(defaultScript({ file: 'cancelled.txt', content: 'c\n', command: 'sleep 60', finalText: 'never' }));
    const cancelling = variant.client.code({ session_id, instruction: 'CANCEL-ME: write, then sleep' });
    await waitFor('sleep to run in the workspace', () => sleepingIn(workspace_path), 60_000);
    const cancelAt = Date.now();
    await variant.client.cancel(session_id);
    const cancelled = assertCodeResult(await cancelling);
    assert.deepEqual([cancelled.success, cancelled.error], [false, 'cancelled']);
    const cancelMs = Date.now() - cancelAt;
    assert.ok(cancelMs < 15_000, `cancel took ${cancelMs} ms`);
    await holder.waitFor('the cancel request', (e) => e.event === 'task_cancel_requested' && e.session === session_id);
    await waitFor('no process left in the workspace', () => processesIn(workspace_path).length === 0, 10_000);

    // SIGKILL the agent while a task runs: the operation fails with "agent lost" before the heartbeat timeout.
    w.claude.setScript(defaultScript({ file: 'killed.txt', content: 'k\n', command: 'sleep 60', finalText: 'never' }));
    const killing = variant.client.code({ session_id, instruction: 'KILL-ME: write, then sleep' }).then(
      (result) => ({ result, error: undefined as Error | undefined }),
      (error: Error) => ({ result: undefined, error }),
    );
    await waitFor('sleep to run in the workspace', () => sleepingIn(workspace_path), 60_000);
    const killedAt = Date.now();
    holder.child.kill('SIGKILL');
    await holder.exited;
    const outcome = await killing;
    const tookMs = Date.now() - killedAt;
    assert.ok(outcome.error, `the task must not succeed: ${JSON.stringify(outcome.result)}`);
    assert.match(outcome.error.message, /agent lost: coding agent agent-[ab] stopped responding during the code task/);
    assert.ok(tookMs < HEARTBEAT_TIMEOUT_MS, `"agent lost" after ${tookMs} ms`);
    const status = await variant.client.status(session_id);
    assert.equal(status.state, 'open');
    assert.match(status.last_error ?? '', /agent lost/);
    assert.deepEqual(
      status.tasks.map((t) => t.success),
      [false, false],
    );
    assert.equal(await kv.agents.get(`agent.${holder.id}`), null, 'the dead agent’s liveness key expired');

    // The agent comes back (same id, same disk): it stops the orphans of the killed task and records it lost.
    const restarted = await agent(holder.id);
    const recovered = await restarted.waitFor('recovery', (e) => e.event === 'recovered_lost_task');
    assert.equal(recovered.op, 'code');
    await waitFor('the killed task’s leftovers to be stopped', () => processesIn(workspace_path).length === 0, 10_000);
    // Calls made for the KILL-ME task itself (its prompt is the conversation's last one). A later task of the
    // resumed conversation resends the killed task's turns as history: under bwrap the agent's death takes claude
    // down at once (--die-with-parent), and its transcript keeps those turns.
    const killedCalls = () => w.claude.mainRequests().filter((r) => JSON.stringify(lastPrompt(r.body)).includes('KILL-ME')).length;
    assert.equal(killedCalls(), 2, 'the killed task made its two calls (write, bash) and was never run again');

    // The session goes on on the restarted agent. A long result travels through the object store.
    const longSummary = `Wrote after.txt. ${'All good. '.repeat(1800)}`;
    w.claude.setScript(defaultScript({ file: 'after.txt', content: 'after\n', command: 'true', finalText: longSummary }));
    const after = assertCodeResult(await variant.client.code({ session_id, instruction: 'AFTER-KILL: write after.txt' }));
    assert.equal(after.success, true, after.error);
    assert.equal(after.summary, longSummary);
    const afterRecord = (await stateRecords(session_id)).find((r) => r.op === 'code' && r.status === 'done' && r.result_ref);
    assert.ok(afterRecord?.result_ref?.bytes && afterRecord.result_ref.bytes > 16 * 1024, 'the result went to the object store');
    assert.equal(killedCalls(), 2);

    const commit = await variant.client.commit({ session_id, message: 'After the kill' });
    await variant.client.push({ session_id });
    assert.equal(w.git.git(repo, 'rev-list', '--count', 'main..feature/kill').trim(), '1', 'exactly one commit on the pushed branch');
    assert.equal(w.git.git(repo, 'rev-parse', 'feature/kill').trim(), commit.commit_hash);
    assert.deepEqual(w.git.git(repo, 'ls-tree', '--name-only', 'feature/kill').trim().split('\n').sort(), ['README.md', 'after.txt', 'cancelled.txt', 'killed.txt']);
    const lost = (await stateRecords(session_id)).filter((r) => r.error?.code === 'agent_lost');
    assert.equal(lost.length, 1, 'the killed task is recorded as agent_lost');
    await variant.client.close({ session_id });
  });

  it('an agent recorded lost by the worker never overwrites that record with its late result (compare-and-set): record and history agree', async () => {
    await agent('agent-a');
    await agent('agent-b');
    const url = await w.git.createRepo('nats-late-result');
    const { session_id, workspace_path } = await variant.client.open({ repo_url: url, backend: 'opencode-nats' });
    const holder = holderOf(workspace_path)!;
    w.claude.setScript(defaultScript({ file: 'late.txt', content: 'late\n', command: 'sleep 60 & pid=$!; sleep 15; kill $pid', finalText: 'Finished late.' }));
    try {
      const task = variant.client.code({ session_id, instruction: 'LATE: write, then sleep' }).then(
        (result) => ({ result, error: undefined as Error | undefined }),
        (error: Error) => ({ result: undefined, error }),
      );
      await waitFor('sleep to run in the workspace', () => sleepingIn(workspace_path), 60_000);
      // Frozen, not dead: no heartbeat, no liveness, so the worker records the task lost; its agent process goes on.
      process.kill(holder.child.pid!, 'SIGSTOP');
      let outcome;
      try {
        outcome = await task;
      } finally {
        process.kill(holder.child.pid!, 'SIGCONT');
      }
      assert.match(outcome.error?.message ?? '', /agent lost: coding agent agent-[ab] stopped responding during the code task/);
      // Thawed, the agent finishes the task and tries to record "done": the worker's record stands.
      const superseded = await holder.waitFor('the late result', (e) => e.event === 'result_superseded' && e.session === session_id, 90_000);
      assert.deepEqual([superseded.ours, superseded.standing], ['done', 'failed']);
      const codeRecords = (await stateRecords(session_id)).filter((r) => r.op === 'code');
      assert.deepEqual(
        codeRecords.map((r) => [r.status, r.error?.code]),
        [['failed', 'agent_lost']],
      );
      const status = await variant.client.status(session_id);
      assert.deepEqual(
        status.tasks.map((t) => t.success),
        [false],
        'the session’s history says the same',
      );
      await variant.client.close({ session_id });
    } finally {
      w.claude.setScript(defaultScript());
    }
  });

  it('malformed, oversized and misrouted messages on the task subjects get error replies; agents keep running', async () => {
    const [a, b] = [await agent('agent-a'), await agent('agent-b')];
    const replies: Array<{ subject: string; body: ResultMessage }> = [];
    const sub = tap.subscribe(`${defaults.subjects.result}.>`, {
      callback: (err, msg) => void (err || replies.push({ subject: msg.subject, body: msg.json<ResultMessage>() })),
    });
    await tap.flush();
    const js = jetstream(tap);
    const task = names.sharedSubject;
    await js.publish(task, 'this is not JSON {');
    await js.publish(task, JSON.stringify({ v: 1, op: 'code', taskID: 'malformed-0001', session: 's1' }));
    await js.publish(task, JSON.stringify({ v: 99, op: 'open', taskID: 'version-0001', session: 's2' }));
    await js.publish(task, JSON.stringify({ v: 1, op: 'open', taskID: 'oversize-0001', session: 's3', title: 'big', padding: 'A'.repeat(600 * 1024) }));
    await js.publish(task, JSON.stringify({ v: 1, op: 'open', taskID: 'callback-0001', session: 's4', callback: 'station.coding.result.custom-reply', extra: 1 }));
    await js.publish(task, JSON.stringify({ v: 1, op: 'open', taskID: 'evil-0001', session: 's5', callback: `$JS.API.STREAM.DELETE.${names.stream}` }));
    await js.publish(task, JSON.stringify({ v: 1, op: 'branch', taskID: 'misrouted-0001', session: 's6', agent: 'agent-a', workspace: '/tmp/x', branch: 'b', create: true }));
    await js.publish(names.agentSubject('agent-b'), new Uint8Array([0xff, 0xfe, 0x00, 0x01]));
    await js.publish(names.agentSubject('agent-b'), JSON.stringify({ v: 1, op: 'close', taskID: 'wrongagent-0001', session: 's7', agent: 'agent-a', workspace: '/tmp/x', delete_workspace: true }));

    const reply = async (what: string, match: (r: { subject: string; body: ResultMessage }) => boolean) => {
      await waitFor(what, () => replies.some(match), 15_000);
      return replies.find(match)!;
    };
    const code = (r: { body: ResultMessage }) => r.body.error?.code;
    // Unreadable messages (no taskID) are answered on <result>.rejected: the text one by either agent, the binary one by agent-b.
    const unreadable = () => replies.filter((r) => r.subject === names.rejected && code(r) === 'invalid_json');
    await waitFor('two replies to unreadable messages', () => unreadable().length === 2, 15_000);
    assert.ok(unreadable().some((r) => r.body.agent === 'agent-b' && /UTF-8/.test(r.body.error!.message)));
    assert.match((await reply('schema error', (r) => r.body.taskID === 'malformed-0001')).body.error!.message, /workspace|agent|prompt/);
    assert.equal(code(await reply('version', (r) => r.body.taskID === 'version-0001')), 'unsupported_version');
    assert.equal(code(await reply('too large', (r) => r.body.taskID === 'oversize-0001')), 'too_large');
    const custom = await reply('callback', (r) => r.body.taskID === 'callback-0001');
    assert.deepEqual([custom.subject, code(custom)], ['station.coding.result.custom-reply', 'invalid_message']);
    const evil = await reply('$ callback', (r) => r.body.taskID === 'evil-0001');
    assert.deepEqual([evil.subject, code(evil)], [names.result('evil-0001'), 'invalid_message']);
    assert.equal(code(await reply('misrouted', (r) => r.body.taskID === 'misrouted-0001')), 'not_routed');
    assert.equal(code(await reply('wrong agent', (r) => r.body.taskID === 'wrongagent-0001')), 'not_routed');
    assert.ok(replies.every((r) => r.body.status === 'rejected' && r.body.v === 1));
    sub.unsubscribe();

    assert.ok(a.running() && b.running(), 'both agents still run');
    assert.ok(await (await jetstreamManager(tap)).streams.info(names.stream), 'the stream was not deleted');
    assert.equal((await (await jetstreamManager(tap)).streams.info(names.stream)).state.messages, 0, 'every bad message was acked');
    for (const id of ['agent-a', 'agent-b']) assert.ok((await kv.agents.get(`agent.${id}`))?.operation === 'PUT', `${id} is alive`);
    // and they still work
    const opened = await variant.client.open({ repo_url: await w.git.createRepo('nats-after-garbage'), backend: 'opencode-nats' });
    assert.equal((await variant.client.close({ session_id: opened.session_id })).workspace_deleted, true);
    // An agent's own base directory (every session's workspaces, swept by its crash recovery) is never a workspace.
    await assert.rejects(
      variant.client.open({ workspace_path: a.base, backend: 'opencode-nats' }),
      /workspace_path .* is not inside this agent's workspace_base_path .*the base itself is refused/,
    );
  });

  it('a Temporal retry and a redelivered task are answered from the record, never run twice', async () => {
    await agent('agent-a');
    await agent('agent-b');
    const opened = await variant.client.open({ repo_url: await w.git.createRepo('nats-idempotent'), backend: 'opencode-nats' });
    const holder = holderOf(opened.workspace_path)!;
    const session = { session_id: opened.session_id, backend: 'opencode-nats' as const, workspace_path: opened.workspace_path, managed: true };
    // A fresh backend, as in a Temporal worker that restarted: it routes through the sessions bucket.
    const backend = new NatsBackend(variant.config);
    const inActivity = <T>(activityId: string, attempt: number, fn: () => Promise<T>) =>
      new MockActivityEnvironment({ activityId, attempt, workflowExecution: { workflowId: opened.session_id, runId: 'run-1' } }, { logger: new DefaultLogger('ERROR') }).run(fn);
    const signal = new AbortController().signal;
    try {
      const first = await inActivity('77', 1, () => backend.branch(session, { branch: 'feature/once', create: true }, signal));
      assert.deepEqual(first, { success: true, branch: 'feature/once', created: true, previous_branch: 'main' });
      // Attempt 2 of the same activity: same task id, answered from the record (running it again would fail: the branch exists).
      const retried = await inActivity('77', 2, () => backend.branch(session, { branch: 'feature/once', create: true }, signal));
      assert.deepEqual(retried, first);
      // A different activity is a different operation: it really runs, and git refuses the existing branch.
      await assert.rejects(
        inActivity('78', 1, () => backend.branch(session, { branch: 'feature/once', create: true }, signal)),
        /branch 'feature\/once' already exists/,
      );
    } finally {
      await backend.shutdown();
    }
    const runs = (taskCount: number) => holder.events.filter((e) => e.event === 'task_done' && e.op === 'branch' && e.session === opened.session_id).length === taskCount;
    assert.ok(runs(2), 'two branch tasks ran (activity 77 once, activity 78 once)');

    // The same message delivered twice (no JetStream dedupe: no message id): the second is answered from the record.
    const replies: ResultMessage[] = [];
    const sub = tap.subscribe(names.result('redelivered-0001'), { callback: (err, msg) => void (err || replies.push(msg.json<ResultMessage>())) });
    await tap.flush();
    const message = JSON.stringify({
      v: 1,
      op: 'branch',
      taskID: 'redelivered-0001',
      session: opened.session_id,
      agent: holder.id,
      workspace: opened.workspace_path,
      branch: 'feature/twice',
      create: true,
    });
    const js = jetstream(tap);
    await js.publish(names.agentSubject(holder.id), message);
    await waitFor('the first result', () => replies.length === 1, 15_000);
    await js.publish(names.agentSubject(holder.id), message);
    await waitFor('the second result', () => replies.length === 2, 15_000);
    sub.unsubscribe();
    assert.deepEqual(replies[1]!.result, replies[0]!.result);
    assert.deepEqual(replies[0]!.result, { success: true, branch: 'feature/twice', created: true, previous_branch: 'feature/once' });
    assert.equal(holder.events.filter((e) => e.event === 'task_done' && e.taskID === 'redelivered-0001').length, 1, 'ran once');
    assert.equal(holder.events.filter((e) => e.event === 'answered_from_record' && e.taskID === 'redelivered-0001').length, 1, 'answered once from the record');
    await variant.client.close({ session_id: opened.session_id });
  });

  it('an agent without the NATS credentials is refused at start with one clear line', async () => {
    const refused = await startAgent(w, nats, { id: 'agent-nocreds', agentTimeoutSec: AGENT_TIMEOUT_SEC, noCreds: true }, false);
    const code = await Promise.race([refused.exited, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
    assert.equal(code, 1, refused.lines.join('\n'));
    const text = refused.lines.join('\n');
    assert.match(text, /station-coding: cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+: .*(Authorization Violation|authorization)/i);
    assert.ok(!text.includes('    at '), 'no stack trace');
  });
});

/** A `sleep` started by the agent's Bash tool runs in the workspace. */
function sleepingIn(workspace: string): boolean {
  return processesIn(workspace).some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').includes('sleep 60');
    } catch {
      return false;
    }
  });
}

/** The session's workflow history as the temporal CLI shows it, with every payload decoded. */
function decodedHistory(w: World, sessionId: string): string {
  const json = execFileSync(w.temporal.cli, ['workflow', 'show', '--workflow-id', sessionId, '--output', 'json', '--address', w.temporal.address], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const out: string[] = [json];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.data === 'string' && record.metadata) out.push(Buffer.from(record.data, 'base64').toString('utf8'));
    Object.values(record).forEach(walk);
  };
  walk(JSON.parse(json));
  return out.join('\n');
}

/** The last user message that is a prompt (not tool results): the instruction of the task a request belongs to. */
function lastPrompt(body: any): unknown {
  const messages: any[] = body?.messages ?? [];
  return messages.findLast((m) => m?.role === 'user' && (typeof m.content === 'string' || !m.content.some((b: any) => b?.type === 'tool_result')));
}
