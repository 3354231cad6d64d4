// `station-coding status` at a terminal: a summary that fits one screen. The session's place and totals first, then
// one line per recent task (number, result, files changed, duration, cost, instruction), then the last error in
// full. Everything else (token breakdowns, update ids) is in `--json`.
import { countedTokens, type SessionStatus, type TaskRecord } from '../../contract.js';
import { count, duration, fit, money, pad, paint, shortRepo, type Terminal, type Tone } from './terminal.js';

/** Tasks shown; older ones are counted, not listed. */
const TASKS_SHOWN = 10;

const STATE_TONES: Partial<Record<SessionStatus['state'], Tone>> = { open: 'green', awaiting_approval: 'yellow', failed: 'red', opening: 'cyan', closing: 'cyan' };

export function statusView(status: SessionStatus, term: Terminal): string {
  const lines: string[] = [];
  const state = paint(term, STATE_TONES[status.state] ?? 'bold', status.state);
  lines.push(`${paint(term, 'bold', status.session_id)}  ${state}${status.busy ? ` (${status.busy})` : ''}`);
  if (status.title) lines.push(`  title      ${status.title}`);
  lines.push(`  backend    ${status.backend ?? '-'}${status.backend_session_id ? paint(term, 'dim', `  conversation ${status.backend_session_id}`) : ''}`);
  lines.push(`  repo       ${shortRepo(status.repo_url)}${status.branch ? `  branch ${status.branch}` : ''}`);
  if (status.workspace_path) lines.push(`  workspace  ${status.workspace_path}${status.managed === false ? ' (yours, kept)' : ''}`);
  lines.push(`  spent      ${status.tasks_run} task${status.tasks_run === 1 ? '' : 's'} · ${count(countedTokens(status.tokens))} tokens · ${money(status.cost)}`);
  if (status.running_task) {
    const slot = status.waiting_for_slot ? paint(term, 'yellow', ` (waiting for a task slot: ${status.waiting_for_slot.ahead} ahead)`) : '';
    lines.push(`  running    task ${status.running_task.task}: ${status.running_task.instruction}${slot}`);
  }
  const pending = status.awaiting_approval;
  if (pending) {
    lines.push(
      `  ${paint(term, 'yellow', 'awaiting')}   approval of the ${pending.operation} of ${pending.branch ?? 'HEAD'}${pending.commit_hash ? ` at ${pending.commit_hash.slice(0, 10)}` : ''} (${pending.files_changed} files, +${pending.insertions} -${pending.deletions}; round ${pending.round})`,
      `             station-coding approve ${status.session_id}   |   station-coding reject ${status.session_id} --feedback "..."`,
    );
  }
  const reviews = status.reviews ?? [];
  if (reviews.length) {
    const last = reviews.at(-1)!;
    lines.push(`  reviews    ${reviews.length}; last: ${last.decision}${last.reviewer ? ` by ${last.reviewer}` : ''}${last.feedback ? `: ${last.feedback.replace(/\s+/g, ' ')}` : ''}`);
  }
  if (status.queued_tasks.length) lines.push(`  queued     ${status.queued_tasks.map((t) => `task ${t.task}`).join(', ')}`);
  if (status.saved_to) lines.push(`  saved to   ${status.saved_to}`);
  if (status.failovers?.length) lines.push(`  failovers  ${status.failovers.length} (last: ${status.failovers.at(-1)!.from} → ${status.failovers.at(-1)!.to})`);
  if (status.tasks.length) {
    lines.push('');
    const shown = status.tasks.slice(-TASKS_SHOWN);
    const earlier = status.tasks_run - shown.length;
    if (earlier > 0) lines.push(paint(term, 'dim', `  (${earlier} earlier task${earlier === 1 ? '' : 's'}: --json lists the most recent ones in full)`));
    lines.push(paint(term, 'bold', `  ${pad('#', 4)}${pad('RESULT', 8)}${pad('FILES', 7)}${pad('TIME', 9)}${pad('COST', 9)}INSTRUCTION`));
    for (const task of shown) lines.push(taskLine(task, term));
  }
  if (status.last_error) {
    lines.push('');
    lines.push(`${paint(term, 'red', 'last error')}  ${status.last_error}`);
  }
  // Lines are cut to the width, except the last error: it is read in full.
  return lines.map((l) => (l.startsWith(paint(term, 'red', 'last error')) ? l : fit(l, term.width))).join('\n');
}

function taskLine(task: TaskRecord, term: Terminal): string {
  const result = task.success ? paint(term, 'green', pad('ok', 8)) : paint(term, 'red', pad(task.error === 'cancelled' ? 'cancel' : 'failed', 8));
  return `  ${pad(String(task.task), 4)}${result}${pad(String(task.files_changed), 7)}${pad(duration(task.duration_ms), 9)}${pad(money(task.cost), 9)}${task.instruction}`;
}
