// The CLI's views for people (src/client/views/): what a person reads at a terminal, fitted to its width, with
// colour only when asked. Pure functions, no servers; the commands themselves are run under a terminal in
// test/terminal.test.ts.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { SessionListing } from '../../src/client/client.js';
import { zeroTokens, type SessionStatus, type TaskRecord } from '../../src/contract.js';
import { LiveView } from '../../src/client/views/live-view.js';
import { resultLine } from '../../src/client/views/result-lines.js';
import { sessionTable } from '../../src/client/views/session-table.js';
import { statusView } from '../../src/client/views/status-view.js';
import { Terminal, age, duration, money, visible } from '../../src/client/views/terminal.js';

const plain = { color: false, width: 100 };
const NOW = Date.parse('2026-12-04T12:00:00Z');

function listing(n: number, extra: Partial<SessionListing> = {}): SessionListing {
  return {
    session_id: `coding_17650000000${n}_abcdef`,
    state: n % 2 ? 'open' : 'closed',
    backend: 'claudecode',
    repo_url: `https://git.example.com/org/a-repository-with-a-rather-long-name-${n}.git`,
    branch: `feature/branch-${n}`,
    cost: 0.0123 * n,
    tasks_run: n,
    title: `Task title number ${n}`,
    started: new Date(NOW - n * 3_600_000).toISOString(),
    ...extra,
  };
}

function record(task: number, extra: Partial<TaskRecord> = {}): TaskRecord {
  return { task, instruction: `Instruction ${task}`, success: true, files_changed: task, duration_ms: 12_300 * task, tokens: { ...zeroTokens(), input: 1000 }, cost: 0.01, ...extra };
}

function status(tasks: TaskRecord[], extra: Partial<SessionStatus> = {}): SessionStatus {
  return {
    session_id: 'coding_1_abc',
    backend: 'codex',
    repo_url: 'https://git.example.com/org/app.git',
    branch: 'feature/x',
    workspace_path: '/var/ws/coding_1_abc',
    scope: 'agent',
    state: 'open',
    queued_tasks: [],
    tasks_run: tasks.length,
    tokens: { ...zeroTokens(), input: 12_345, output: 678 },
    cost: 0.1234,
    tasks,
    ...extra,
  };
}

describe('views for people', () => {
  it('list: a table with a header, every session id whole, each line within the width', () => {
    const rows = [listing(1), listing(2)];
    for (const width of [60, 100, 200]) {
      const table = sessionTable(rows, { color: false, width }, NOW).split('\n');
      assert.match(table[0]!, /^SESSION\s+STATE\s+BACKEND/);
      assert.equal(table.length, 3);
      for (const line of table) assert.ok(line.length <= width, `${line.length} > ${width}: ${line}`);
      for (const row of rows) assert.ok(table.some((l) => l.includes(row.session_id)), `${row.session_id} whole at width ${width}`);
    }
    const wide = sessionTable(rows, { color: false, width: 200 }, NOW);
    assert.match(wide, /coding_176500000001_abcdef\s+open\s+claudecode\s+git\.example\.com\/org\/a-repository-with-a-rather-long-name-1\s+feature\/branch-1\s+1\s+\$0\.0123\s+1h\s+Task title number 1/);
    assert.equal(sessionTable([], plain, NOW), 'No sessions.');
  });

  it('colour only when the terminal takes it: NO_COLOR and TERM=dumb turn it off; a pipe is no terminal', () => {
    const tty = Object.assign(new PassThrough(), { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream;
    assert.deepEqual(Terminal.of(tty, {}), { color: true, width: 120 });
    assert.equal(Terminal.of(tty, { NO_COLOR: '1' })!.color, false);
    assert.equal(Terminal.of(tty, { TERM: 'dumb' })!.color, false);
    assert.equal(Terminal.of(new PassThrough() as unknown as NodeJS.WriteStream, {}), undefined);
    const coloured = sessionTable([listing(1)], { color: true, width: 200 }, NOW);
    assert.match(coloured, /\x1b\[1mSESSION/);
    assert.equal(visible(coloured), sessionTable([listing(1)], { color: false, width: 200 }, NOW));
  });

  it('status: fits one screen with many tasks; one line per recent task; the last error in full', () => {
    const tasks = Array.from({ length: 20 }, (_, i) => record(i + 11));
    tasks[19] = record(30, { success: false, error: 'cancelled' });
    const longError = `the agent stopped: ${'x'.repeat(300)}`;
    const view = statusView(status(tasks, { tasks_run: 30, last_error: longError, running_task: { task: 31, instruction: 'Next one' }, waiting_for_slot: { ahead: 1, limit: 2 } }), plain).split('\n');
    assert.ok(view.length <= 24, `${view.length} lines:\n${view.join('\n')}`);
    assert.match(view[0]!, /^coding_1_abc {2}open$/);
    assert.ok(view.some((l) => /^ {2}spent +30 tasks · 13k tokens · \$0\.1234$/.test(l)), view.join('\n'));
    assert.ok(view.some((l) => /running +task 31: Next one \(waiting for a task slot: 1 ahead\)/.test(l)));
    assert.ok(view.some((l) => /20 earlier tasks/.test(l)), 'the older tasks are counted');
    assert.ok(view.some((l) => /^ {2}21 +ok +21 +4m18s +\$0\.0100 +Instruction 21$/.test(l)), view.join('\n'));
    assert.ok(view.some((l) => /^ {2}30 +cancel /.test(l)));
    assert.ok(view.includes(`last error  ${longError}`), 'the last error is not cut');
    for (const line of view.filter((l) => !l.startsWith('last error'))) assert.ok(line.length <= plain.width, line);
  });

  it('one line per tool result', () => {
    assert.equal(
      resultLine.commit({ success: true, commit_hash: '0123456789abcdef', branch: 'main', files_changed: 2, insertions: 5, deletions: 1 }, plain),
      'Committed 0123456789 on main: 2 files changed, +5 -1',
    );
    assert.equal(
      resultLine.code({ success: false, summary: '', error: 'budget exceeded', files_changed: [], trace: { backend: 'claudecode', tokens: zeroTokens(), cost: 0.5, duration_ms: 1500, tool_calls: [] } }, plain),
      'Task failed: budget exceeded (0 files changed · 1.5s · $0.5000)',
    );
    assert.equal(resultLine.close({ session_id: 's', success: true, reason: 'idle_timeout', workspace_deleted: true }, plain), 'Closed s (idle timeout): workspace deleted');
    assert.equal(resultLine.cancel({ session_id: 's', task: 3 }, plain), 'Asked s to cancel task 3');
  });

  it('the live view: events as lines; at a terminal a status line saying what the task waits for', () => {
    const out = new PassThrough();
    let written = '';
    out.on('data', (d) => (written += String(d)));
    const view = new LiveView(out, plain);
    view.taskStarted(5000);
    assert.match(view.statusLine()!, /^… 5\.0s · waiting for the model$/);
    view.event({ kind: 'tool_call', tool: 'Bash', text: 'Bash: npm test' });
    view.update({ tokens: { ...zeroTokens(), input: 1500 }, cost: 0.02 });
    assert.match(view.statusLine()!, /^… 5\.\ds · waiting for a tool: Bash: npm test · 1\.5k tokens · \$0\.0200$/);
    view.event({ kind: 'text', text: 'the model API failed (no answer); Claude Code retries in 2.0 s (attempt 1 of 3)' });
    assert.match(view.statusLine()!, /waiting for the model \(last: the model API failed \(no answer\); Claude Code retries/);
    view.update({ waiting: { ahead: 2, limit: 1 } });
    assert.match(view.statusLine()!, /waiting for a task slot \(2 ahead, 1 at once\)/);
    view.stop();
    assert.match(written, / {2}→ Bash: npm test\n/);
    assert.equal(view.statusLine(), undefined, 'no status line once the task ended');
    // A quick task has no status line yet.
    view.taskStarted();
    assert.equal(view.statusLine(), undefined);
    view.stop();
  });

  it('figures as people read them', () => {
    assert.deepEqual([duration(850), duration(12_340), duration(245_000), duration(7_800_000)], ['850ms', '12.3s', '4m05s', '2h10m']);
    assert.deepEqual([money(0.01234), money(12.345), money(undefined)], ['$0.0123', '$12.35', '-']);
    assert.deepEqual([age('2026-12-04T11:59:30Z', NOW), age('2026-12-02T12:00:00Z', NOW)], ['30s', '2d']);
  });
});
