// The session workflow's own rules, with stub activities (no git, no agent): wait for open, one operation at a
// time in arrival order, validation with typed failures, invalid start, failed open, cancel that names its task,
// idle timeout with one timer, continue-as-new, budget refusal, workflow cancel. Real Temporal dev server.
// With RECORD_HISTORIES=1 each scenario's history is written to test/fixtures/histories (replayed by replay.test).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import proto from '@temporalio/proto';
import { Client, Connection, WorkflowFailedError, WorkflowUpdateFailedError, WorkflowUpdateStage, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { NativeConnection, Worker } from '@temporalio/worker';
import { WORKFLOW_TYPE, type OpenInput } from '../../src/contract.js';
import { workflowBundle } from '../../src/host/workflow-bundle.js';
import { ensureSearchAttributes } from '../../src/host/search-attributes-setup.js';
import { branchUpdate, cancelSignal, checkUpdate, closeUpdate, codeUpdate, commitUpdate, openUpdate, pushUpdate, reviewSignal, reviewUpdate, statusQuery } from '../../src/workflows/definitions.js';
import type { SessionRunOptions } from '../../src/workflows/coding-session.js';
import { ROOT } from '../support/root.js';
import { sharedTemporalServer } from '../support/temporal-server.js';
import { stubActivities, type StubLog } from '../support/stub-activities.js';

export const HISTORIES_DIR = join(ROOT, 'test', 'fixtures', 'histories');

/** The failure an update or workflow ended with: its ApplicationFailure type and message. */
async function failureOf(promise: Promise<unknown>): Promise<{ type?: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    const cause = err instanceof WorkflowUpdateFailedError || err instanceof WorkflowFailedError ? err.cause : err;
    if (cause instanceof ApplicationFailure) return { type: cause.type ?? undefined, message: cause.message };
    if (cause instanceof CancelledFailure) return { type: 'CancelledFailure', message: cause.message };
    return { message: String(err) };
  }
  assert.fail('expected a failure');
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail('timed out waiting');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('session workflow rules (stub activities)', function () {
  let client: Client;
  let worker: Worker;
  let running: Promise<void>;
  let connection: NativeConnection;
  let clientConnection: Connection;
  let log: StubLog;
  let taskQueue: string;

  before(async () => {
    // Only a Temporal server: no git, no agents, no fake models (this file runs in the fast tier, npm run test:unit).
    const temporal = await sharedTemporalServer();
    clientConnection = await Connection.connect({ address: temporal.address });
    // What a worker of the project does at start: the session workflow upserts these.
    assert.deepEqual(await ensureSearchAttributes(clientConnection.operatorService, 'default'), { ready: true });
    client = new Client({ connection: clientConnection });
    taskQueue = `wf-rules-${randomBytes(3).toString('hex')}`;
    const stubs = stubActivities(taskQueue);
    log = stubs.log;
    connection = await NativeConnection.connect({ address: temporal.address });
    worker = await Worker.create({
      connection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: stubs.activities,
      maxHeartbeatThrottleInterval: '50 milliseconds',
      defaultHeartbeatThrottleInterval: '50 milliseconds',
    });
    running = worker.run();
  });
  after(async () => {
    worker.shutdown();
    await running;
    await connection.close();
    await clientConnection.close();
  });

  const start = (input: OpenInput | Record<string, unknown>, options?: SessionRunOptions, id = `wf_${randomBytes(4).toString('hex')}`) =>
    client.workflow.start(WORKFLOW_TYPE, { workflowId: id, taskQueue, args: options ? [input, options] : [input] });

  async function record(name: string, handle: WorkflowHandle, runId?: string): Promise<void> {
    if (!process.env.RECORD_HISTORIES) return;
    // Plain protobuf objects as JSON (read back with History.fromObject): the SDK's historyFromJSON fails here
    // with "type must be a Type", because npm installs two copies of protobufjs 8 under @temporalio/*.
    const h = runId ? client.workflow.getHandle(handle.workflowId, runId) : handle;
    const history = proto.temporal.api.history.v1.History.toObject((await h.fetchHistory()) as never, { longs: String, enums: String, bytes: String });
    mkdirSync(HISTORIES_DIR, { recursive: true });
    writeFileSync(join(HISTORIES_DIR, `${name}.json`), `${JSON.stringify(history, null, 1)}\n`);
  }

  it('an update sent right after the start waits for the open, then runs', async () => {
    const handle = await start({ repo_url: 'https://example.invalid/r.git', title: 'open_ms=800' });
    const branch = await handle.executeUpdate(branchUpdate, { args: [{ branch: 'feature/early', create: true }] });
    assert.equal(branch.branch, 'feature/early');
    const opened = await handle.executeUpdate(openUpdate, { args: [{}] });
    assert.equal(opened.session_id, handle.workflowId, 'the session id is the workflow id');
    assert.equal(opened.attached, false, 'the first open is not an attach');
    assert.equal((await handle.executeUpdate(openUpdate, { args: [{}] })).attached, true, 'a second open attaches');
    assert.equal((await handle.query(statusQuery)).scope, 'agent', 'the default scope is applied by the workflow');
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await handle.result();
    await record('full-session-early-update', handle);
  });

  it('operations run one at a time, in the order they arrived', async () => {
    const handle = await start({ title: 'open_ms=300' });
    const before = log.calls.length;
    log.maxConcurrent = 0;
    const names = Array.from({ length: 6 }, (_, i) => `serial/b${i}`);
    const results = [];
    for (const branch of names) results.push(handle.executeUpdate(branchUpdate, { args: [{ branch, create: true }] }));
    await Promise.all(results);
    assert.equal(log.maxConcurrent, 1);
    // Arrival order is the order the workflow accepted the updates in (the client sends them concurrently).
    const accepted = (await handle.fetchHistory()).events!.flatMap((e) => {
      const request = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
      if (request?.input?.name !== 'branch') return [];
      return [defaultPayloadConverter.fromPayload<{ branch: string }>(request.input.args!.payloads![0] as never).branch];
    });
    assert.deepEqual([...accepted].sort(), [...names].sort());
    assert.deepEqual(
      log.calls.slice(before).filter((c) => c.startsWith('branch ')),
      accepted.map((n) => `branch ${n}`),
    );
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('bad payloads are refused with invalid_input naming the field, before history, and the session lives on', async () => {
    const handle = await start({});
    await handle.executeUpdate(openUpdate, { args: [{}] });
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => handle.executeUpdate(codeUpdate, { args: [{ instruction: '' }] }), /instruction: must not be empty/],
      [() => handle.executeUpdate(branchUpdate, { args: [{ branch: 'x', bogus: 1 } as never] }), /bogus: unknown field/],
      [() => handle.executeUpdate(branchUpdate, { args: [{ session_id: 'someone_else', branch: 'x' }] }), /session_id: someone_else does not match this session/],
      [() => handle.executeUpdate(codeUpdate, { args: [{ instruction: 'x', files: ['../etc/passwd'] }] }), /files\.0: must stay inside the workspace/],
    ];
    for (const [send, message] of cases) {
      const f = await failureOf(send());
      assert.equal(f.type, 'invalid_input');
      assert.match(f.message, message);
    }
    const history = await handle.fetchHistory();
    const accepted = history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).map((e) => e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.name);
    assert.deepEqual(accepted, ['open'], 'a rejected update leaves no trace in history');
    assert.equal((await handle.query(statusQuery)).state, 'open');
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('an invalid start input fails the workflow at once with invalid_input naming the field', async () => {
    for (const [input, field] of [
      [{ scope: 'galaxy' }, /scope: /],
      [{ cleanup_policy: 'sometimes' }, /cleanup_policy: /],
      [{ scope: 'workflow' }, /scope_id: is required/],
      [{ repo_url: 'ext::sh -c x' }, /repo_url: transport syntax/],
    ] as const) {
      const handle = await start(input);
      const f = await failureOf(handle.result());
      assert.equal(f.type, 'invalid_input');
      assert.match(f.message, field);
    }
    const handle = await start({ session_id: 'not_the_workflow_id' });
    assert.match((await failureOf(handle.result())).message, /session_id: not_the_workflow_id differs from the workflow id/);
    await record('invalid-start', handle);
  });

  it('a failed open fails the workflow (open_failed, the cause in one line); a waiting update gets the same', async () => {
    const handle = await start({ repo_url: 'https://example.invalid/nothing.git', title: 'open_ms=300 fail_open' });
    const waiting = failureOf(handle.executeUpdate(codeUpdate, { args: [{ instruction: 'never runs' }] }));
    const f = await failureOf(handle.result());
    assert.equal(f.type, 'open_failed');
    assert.match(f.message, /^repository not found: https:\/\/example\.invalid\/nothing\.git$/);
    assert.equal((await waiting).type, 'open_failed');
    assert.equal((await handle.describe()).status.name, 'FAILED');
    await record('failed-open', handle);
  });

  it('cancel: without a task it cancels the running one, with a number a queued one, and never a later task', async () => {
    const handle = await start({});
    await handle.executeUpdate(openUpdate, { args: [{}] });
    // Sent one after the other (each accepted before the next is sent), so the task numbers are 1, 2, 3.
    const send = async (instruction: string) => handle.startUpdate(codeUpdate, { args: [{ instruction }], waitForStage: WorkflowUpdateStage.ACCEPTED });
    const slow = (await send('slow one')).result();
    const queued = (await send('queued two')).result();
    const third = (await send('queued three')).result();
    await waitForStatus(handle, (s) => s.running_task?.task === 1 && s.queued_tasks.length === 2);
    await handle.signal(cancelSignal, { task: 3 });
    await handle.signal(cancelSignal);
    assert.equal((await slow).error, 'cancelled');
    assert.equal((await queued).success, true, 'task 2 was neither running nor named');
    assert.equal((await third).error, 'cancelled');
    await handle.signal(cancelSignal); // nothing running or queued: a no-op
    assert.equal((await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'four' }] })).success, true, 'a late cancel does not cancel the next task');
    const status = await handle.query(statusQuery);
    assert.deepEqual(
      status.tasks.map((t) => [t.task, t.success]).sort(),
      [
        [1, false],
        [2, true],
        [3, false],
        [4, true],
      ],
    );
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await handle.result();
    await record('cancel-tasks', handle);
  });

  it('idle timeout: an agent-scope session closes itself with one timer per idle period, not one per operation', async () => {
    const handle = await start({ title: 'idle=1500' });
    for (let i = 0; i < 5; i++) await handle.executeUpdate(branchUpdate, { args: [{ branch: `idle/b${i}`, create: true }] });
    const end = await handle.result();
    assert.equal(end.close.reason, 'idle_timeout');
    assert.equal(end.close.success, false);
    const timers = (await handle.fetchHistory()).events!.filter((e) => e.timerStartedEventAttributes);
    assert.ok(timers.length <= 3, `${timers.length} timers for 5 quick operations`);
    assert.ok(timers.every((t) => t.userMetadata?.summary), 'timers are labelled');
    await record('idle-timeout', handle);
  });

  it('continues as new when history grows, carrying state, without losing queued updates', async () => {
    const handle = await start({ title: 'cost=0.01' }, { history_event_limit: 30 });
    const firstRun = (await handle.describe()).runId;
    await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'before' }] });
    await Promise.all(Array.from({ length: 8 }, (_, i) => handle.executeUpdate(branchUpdate, { args: [{ branch: `can/b${i}`, create: true }] })));
    const status = await handle.query(statusQuery);
    assert.equal(status.tasks_run, 1);
    assert.equal(status.tasks[0]!.task, 1);
    const lastRun = (await handle.describe()).runId;
    assert.notEqual(lastRun, firstRun, 'the session continued as new');
    assert.equal((await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'after' }] })).success, true);
    assert.equal((await handle.query(statusQuery)).tasks.at(-1)!.task, 2, 'task numbers continue');
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await record('continue-as-new-first-run', handle, firstRun);
    await record('continue-as-new-last-run', handle, lastRun);
  });

  it('approval gate: a gated push answers at once and waits; changes are refused meanwhile; a rejection with feedback runs a fix, commits it and waits again; an approval pushes', async () => {
    const handle = await start({ repo_url: 'https://example.invalid/r.git', require_approval: ['push'] });
    await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'work' }] });
    const before = log.calls.length;
    const asked = await handle.executeUpdate(pushUpdate, { args: [{}] });
    assert.deepEqual({ success: asked.success, awaiting: asked.awaiting_approval }, { success: false, awaiting: true });
    assert.ok(!log.calls.slice(before).includes('push'), 'nothing was pushed');
    let status = await handle.query(statusQuery);
    assert.equal(status.state, 'awaiting_approval');
    assert.deepEqual({ op: status.awaiting_approval?.operation, round: status.awaiting_approval?.round, remote: status.awaiting_approval?.remote }, { op: 'push', round: 1, remote: 'origin' });
    // Changes wait for the decision: refused before history, with the way out.
    const refused = await failureOf(handle.executeUpdate(codeUpdate, { args: [{ instruction: 'sneak in' }] }));
    assert.equal(refused.type, 'conflict');
    assert.match(refused.message, /is awaiting approval of its push .*station-coding approve\|reject/);
    assert.equal((await failureOf(handle.executeUpdate(commitUpdate, { args: [{ message: 'x' }] }))).type, 'conflict');
    // A decision with nothing awaiting is refused; a bad one names the field.
    assert.match((await failureOf(handle.executeUpdate(reviewUpdate, { args: [{ decision: 'maybe' as never }] }))).message, /decision/);

    const rejected = await handle.executeUpdate(reviewUpdate, { args: [{ decision: 'reject', feedback: 'Rename the helper', reviewer: 'ana' }] });
    assert.equal(rejected.awaiting_approval, true);
    assert.match(rejected.fix!.summary, /A reviewer \(ana\) rejected the push .*Rename the helper/s);
    status = await handle.query(statusQuery);
    assert.equal(status.state, 'awaiting_approval');
    assert.equal(status.awaiting_approval!.round, 2);
    assert.equal(status.tasks_run, 2, 'the fix is a task of the session');
    assert.deepEqual(status.reviews!.map((r) => [r.decision, r.reviewer, r.round]), [['reject', 'ana', 1]]);

    await handle.signal(reviewSignal, { decision: 'approve', reviewer: 'ana' });
    // The state is open as soon as the approval is taken; the push follows in the same review.
    await waitUntil(async () => (await handle.query(statusQuery)).state === 'open' && log.calls.slice(before).includes('push'));
    assert.equal((await failureOf(handle.executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] }))).type, 'conflict', 'nothing awaits any more');
    const pushedAgain = await handle.executeUpdate(pushUpdate, { args: [{}] });
    assert.equal(pushedAgain.awaiting_approval, true, 'every push of the session is gated');
    const approved = await handle.executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] });
    assert.equal(approved.push!.success, true);
    assert.deepEqual((await handle.query(statusQuery)).reviews!.map((r) => r.decision), ['reject', 'approve', 'approve']);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await record('approval-gate', handle);
  });

  it('approval gate: no decision within the approval timeout closes the session (approval_timeout); the idle timeout does not run meanwhile', async () => {
    const handle = await start({ title: 'idle=300 approval=2500', require_approval: ['push'] });
    assert.equal((await handle.executeUpdate(pushUpdate, { args: [{}] })).awaiting_approval, true);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await handle.query(statusQuery)).state, 'awaiting_approval', 'idle=300 ms did not close it');
    const end = await handle.result();
    assert.deepEqual([end.close.reason, end.close.success, end.status.state], ['approval_timeout', false, 'closed']);
    assert.equal(end.status.awaiting_approval, undefined);
  });

  it('approval gate: continue-as-new keeps the pending decision', async () => {
    const handle = await start({ require_approval: ['push'] }, { history_event_limit: 25 });
    const firstRun = (await handle.describe()).runId;
    assert.equal((await handle.executeUpdate(pushUpdate, { args: [{}] })).awaiting_approval, true);
    for (let i = 0; i < 6; i++) await handle.query(statusQuery);
    await Promise.all(Array.from({ length: 4 }, (_, i) => handle.executeUpdate(reviewUpdate, { args: [{ decision: 'reject', feedback: `round ${i}` }] }).catch(() => undefined)));
    await waitUntil(async () => (await handle.describe()).runId !== firstRun && (await handle.query(statusQuery)).state === 'awaiting_approval');
    const status = await handle.query(statusQuery);
    assert.ok(status.awaiting_approval!.round >= 2);
    assert.ok(status.reviews!.length >= 1);
    assert.equal((await handle.executeUpdate(reviewUpdate, { args: [{ decision: 'approve' }] })).push!.success, true);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
  });

  it('checks and the fix loop: failing checks go back to the agent as the next round, one task in the record; out of rounds the task fails naming them', async () => {
    const handle = await start({ title: 'checks_fail=2 cost=0.01' });
    const fixed = await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'make it pass', fix_rounds: 3 }] });
    assert.equal(fixed.success, true, fixed.error);
    assert.equal(fixed.fix_rounds, 2);
    assert.deepEqual(fixed.checks!.map((c) => [c.name, c.passed]), [['tests', true]]);
    assert.match(fixed.summary, /^did: The checks failed after your changes:\n\n### tests exited with 1\n```\nrun 2: 1 test failed/);
    assert.ok(Math.abs(fixed.trace.cost - 0.03) < 1e-9, `three rounds cost ${fixed.trace.cost}`);
    let status = await handle.query(statusQuery);
    assert.equal(status.tasks_run, 1, 'the rounds are one task');
    assert.deepEqual([status.tasks[0]!.checks, status.tasks[0]!.fix_rounds], [{ passed: 1, failed: 0 }, 2]);
    assert.deepEqual(status.last_checks!.map((c) => c.passed), [true]);

    const again = await start({ title: 'checks_fail=5' });
    const failed = await again.executeUpdate(codeUpdate, { args: [{ instruction: 'hard', fix_rounds: 1 }] });
    assert.equal(failed.success, false);
    assert.equal(failed.error, 'checks failed after 1 fix round: tests (exit 1)');
    const none = await start({ checks: [] });
    const unverified = await none.executeUpdate(codeUpdate, { args: [{ instruction: 'verify me', checks: true }] });
    assert.equal(unverified.success, false);
    assert.match(unverified.error ?? '', /^checks were asked for, but the session has none: configure coding\.checks/);
    await none.executeUpdate(closeUpdate, { args: [{}] });
    const plain = await again.executeUpdate(codeUpdate, { args: [{ instruction: 'no checks asked' }] });
    assert.equal(plain.checks, undefined, 'checks run only when asked');
    const now = await again.executeUpdate(checkUpdate, { args: [{}] });
    assert.deepEqual([now.passed, now.checks.length], [false, 1]);
    assert.equal((await failureOf(again.executeUpdate(checkUpdate, { args: [{ names: ['nope'] }] }))).type, 'invalid_input');
    status = await again.query(statusQuery);
    assert.equal(status.last_checks![0]!.output_tail, 'run 3: 1 test failed', 'a refused check run leaves the last results');
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await again.executeUpdate(closeUpdate, { args: [{}] });
    await record('checks-fix-loop', handle);
  });

  it('best-of-N: the attempts run side by side in their own workspaces with their backends; the rule chooses, one is applied, all are saved; a cancel applies none', async () => {
    const handle = await start({ title: 'wins=2,3 cost=0.01', run_checks: true });
    const before = log.calls.length;
    const result = await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'try it', attempts: 3, backends: ['claudecode', 'codex'] }] });
    assert.equal(result.success, true, result.error);
    assert.equal(result.chosen, 2, 'attempts 2 and 3 pass their checks; 2 has the smaller diff');
    assert.deepEqual(
      result.attempts!.map((a) => [a.n, a.backend, a.success, a.checks, a.diff_stat.insertions]),
      [
        [1, 'claudecode', false, { passed: 0, failed: 1 }, 10],
        [2, 'codex', true, { passed: 1, failed: 0 }, 20],
        [3, 'claudecode', true, { passed: 1, failed: 0 }, 30],
      ],
    );
    assert.ok(Math.abs(result.trace.cost - 0.03) < 1e-9, `the task costs what its attempts cost together: ${result.trace.cost}`);
    assert.equal(result.attempts_saved_to, '/stub/saved/stub/attempts/task-1');
    const calls = log.calls.slice(before);
    assert.deepEqual(calls.filter((c) => /attempts/.test(c)), ['prepare attempts 3', 'measure attempts', 'settle attempts 2']);
    assert.equal(calls.filter((c) => c === 'code try it').length, 3);
    let status = await handle.query(statusQuery);
    assert.deepEqual([status.tasks_run, status.tasks[0]!.attempts, status.tasks[0]!.chosen, status.running_attempts], [1, 3, 2, undefined]);

    // Refused before history: fewer attempts than backends; a session's budget covers the attempts' sum.
    assert.equal((await failureOf(handle.executeUpdate(codeUpdate, { args: [{ instruction: 'x', attempts: 1, backends: ['claudecode', 'codex'] }] }))).type, 'invalid_input');
    assert.equal((await failureOf(handle.executeUpdate(codeUpdate, { args: [{ instruction: 'x', backends: ['nats'] } as never] }))).type, 'invalid_input');

    // Cancelled while the attempts run: every attempt stops, none is applied, all are saved.
    const slow = handle.executeUpdate(codeUpdate, { args: [{ instruction: 'slow attempts', attempts: 2 }] });
    await waitForStatus(handle, (s) => s.running_attempts?.length === 2);
    status = await handle.query(statusQuery);
    assert.deepEqual(status.running_attempts!.map((a: { n: number; state: string }) => [a.n, a.state]), [[1, 'coding'], [2, 'coding']]);
    // The Temporal UI's current details (the SDK's built-in metadata query) show each attempt.
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(metadata.currentDetails ?? '', /attempt 1\/2 \(claudecode\): coding\n\nattempt 2\/2 \(claudecode\): coding/);
    await handle.signal(cancelSignal, {});
    const cancelled = await slow;
    assert.deepEqual([cancelled.success, cancelled.error, cancelled.chosen, cancelled.attempts!.length], [false, 'cancelled', undefined, 2]);
    assert.ok(log.calls.includes('settle attempts none'));
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await record('best-of-n', handle);
  });

  it('budget: a task that would start over budget is refused with budget_exhausted', async () => {
    const handle = await start({ title: 'cost=0.6', max_cost_usd: 1 });
    assert.equal((await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'one' }] })).success, true);
    assert.equal((await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'two' }] })).success, true);
    const f = await failureOf(handle.executeUpdate(codeUpdate, { args: [{ instruction: 'three' }] }));
    assert.equal(f.type, 'budget_exhausted');
    assert.match(f.message, /budget exhausted: the session spent \$1\.2000 of its \$1 \(max_cost_usd\)/);
    assert.equal((await handle.query(statusQuery)).tasks_run, 2);
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await record('budget-stop', handle);
  });

  it('failover: an operation the lost worker never picks up re-creates the workspace on another worker, pins there and runs', async () => {
    const handle = await start({ repo_url: 'https://example.invalid/r.git', title: 'lost' });
    await handle.executeUpdate(openUpdate, { args: [{}] });
    const before = log.calls.length;
    const branch = await handle.executeUpdate(branchUpdate, { args: [{ branch: 'feature/moved', create: true }] });
    assert.equal(branch.branch, 'feature/moved');
    assert.equal((await handle.executeUpdate(codeUpdate, { args: [{ instruction: 'after the move' }] })).success, true);
    assert.deepEqual(log.calls.slice(before), [`restore ${handle.workflowId}`, 'branch feature/moved', 'code after the move'], 'one restore, then every operation on the new worker');
    const status = await handle.query(statusQuery);
    assert.equal(status.workspace_path, `/stub/restored/${handle.workflowId}`);
    assert.deepEqual(
      status.failovers?.map((f) => [f.from, f.to]),
      [['gone-host', taskQueue]],
    );
    await handle.executeUpdate(closeUpdate, { args: [{}] });
    await record('failover', handle);
  });

  it('branch and commit run inside the workflow task (local activities) on the worker holding the workspace, else as activities on its queue', async () => {
    const scheduled = async (handle: WorkflowHandle) => {
      const events = (await handle.fetchHistory()).events!;
      return {
        local: events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity').length,
        activities: events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
      };
    };
    const here = await start({});
    await here.executeUpdate(branchUpdate, { args: [{ branch: 'feature/here', create: true }] });
    await here.executeUpdate(commitUpdate, { args: [{ message: 'here' }] });
    await here.executeUpdate(closeUpdate, { args: [{}] });
    await record('local-git-operations', here);
    const onHere = await scheduled(here);
    assert.equal(onHere.local, 2, 'branch and commit as local activities');
    assert.deepEqual(onHere.activities.filter((a) => a === 'createBranch' || a === 'commitChanges'), []);

    // The workspace is on another worker: the local activity declines there, the regular one runs on that queue.
    const elsewhere = await Worker.create({ connection, taskQueue: `${taskQueue}@elsewhere`, activities: stubActivities(taskQueue).activities });
    const elsewhereRun = elsewhere.run();
    try {
      const there = await start({ title: 'elsewhere' });
      const branch = await there.executeUpdate(branchUpdate, { args: [{ branch: 'feature/there', create: true }] });
      assert.equal(branch.branch, 'feature/there');
      await there.executeUpdate(commitUpdate, { args: [{ message: 'there' }] });
      await there.executeUpdate(closeUpdate, { args: [{}] });
      const onThere = await scheduled(there);
      assert.deepEqual(onThere.activities.filter((a) => a === 'createBranch' || a === 'commitChanges'), ['createBranch', 'commitChanges']);
    } finally {
      elsewhere.shutdown();
      await elsewhereRun;
    }
  });

  it('cancelling the workflow closes the session and applies its cleanup policy', async () => {
    const handle = await start({});
    await handle.executeUpdate(openUpdate, { args: [{}] });
    await handle.cancel();
    assert.equal((await failureOf(handle.result())).type, 'CancelledFailure');
    assert.deepEqual(
      log.closed.filter((c) => c.session === handle.workflowId),
      [{ session: handle.workflowId, delete_workspace: true }],
    );
    await record('workflow-cancel', handle);
  });
});

async function waitForStatus(handle: WorkflowHandle, check: (s: Awaited<ReturnType<WorkflowHandle['query']>> & any) => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check(await handle.query(statusQuery))) {
    if (Date.now() > deadline) assert.fail(`status never matched: ${JSON.stringify(await handle.query(statusQuery))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
