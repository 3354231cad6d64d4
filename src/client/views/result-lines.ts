// What the tool commands print at a terminal: one line saying what happened. The JSON (`--json`, or any pipe) is
// the tool's result as the contract defines it; this is only its reading for a person.
import type { BranchResult, CheckResult, ChecksResult, CloseResult, CodeResult, CommitResult, OpenResult, PrResult, PushResult, ReviewResult } from '../../contract.js';
import { duration, money, paint, type Terminal } from './terminal.js';

const short = (hash: string) => hash.slice(0, 10);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export const resultLine = {
  open(r: OpenResult, term: Terminal): string {
    const where = r.repo_cloned ? 'cloned' : 'opened';
    return `${paint(term, 'green', 'Opened')} ${paint(term, 'bold', r.session_id)} on ${r.backend}: ${where}${r.branch ? `, branch ${r.branch}` : ''}, workspace ${r.workspace_path}`;
  },

  code(r: CodeResult, term: Terminal): string {
    const head = r.success ? paint(term, 'green', 'Task succeeded') : paint(term, 'red', 'Task failed');
    const what = r.success ? r.summary.trim().split('\n')[0] || '(no summary)' : (r.error ?? r.summary);
    const checks = r.checks?.length ? ` · checks ${r.checks.filter((c) => c.passed).length}/${r.checks.length} passed${r.fix_rounds ? ` after ${plural(r.fix_rounds, 'fix round')}` : ''}` : '';
    const chosen = r.attempts?.find((a) => a.n === r.chosen);
    const attempts = r.attempts ? ` · attempt ${r.chosen ?? 'none'} of ${r.attempts.length} chosen${chosen ? ` (${chosen.backend})` : ''}` : '';
    const figures = `${plural(r.files_changed.length, 'file')} changed · ${duration(r.trace.duration_ms)} · ${money(r.trace.cost)}${checks}${attempts}`;
    return `${head}: ${what} ${paint(term, 'dim', `(${figures})`)}`;
  },

  branch(r: BranchResult, term: Terminal): string {
    return `${r.created ? 'Created and switched to' : 'Switched to'} branch ${paint(term, 'bold', r.branch)}${r.previous_branch ? ` (from ${r.previous_branch})` : ''}`;
  },

  commit(r: CommitResult, term: Terminal): string {
    return `Committed ${paint(term, 'bold', short(r.commit_hash))}${r.branch ? ` on ${r.branch}` : ''}: ${plural(r.files_changed, 'file')} changed, ${paint(term, 'green', `+${r.insertions}`)} ${paint(term, 'red', `-${r.deletions}`)}`;
  },

  push(r: PushResult, term: Terminal): string {
    if (r.awaiting_approval) return `${paint(term, 'yellow', 'Awaiting approval')}: the push of ${paint(term, 'bold', r.branch)} to ${r.remote} at ${short(r.commit_hash)} runs once a reviewer approves`;
    return `Pushed ${paint(term, 'bold', r.branch)} to ${r.remote} at ${short(r.commit_hash)}${r.set_upstream ? ' (upstream set)' : ''}`;
  },

  pr(r: PrResult, term: Terminal): string {
    if (r.awaiting_approval) return `${paint(term, 'yellow', 'Awaiting approval')}: the pull request of ${paint(term, 'bold', r.head)} opens once a reviewer approves`;
    return `${r.created ? 'Opened' : 'Updated'} pull request ${paint(term, 'bold', `#${r.number}`)} (${r.head} into ${r.base}): ${r.url}`;
  },

  close(r: CloseResult, term: Terminal): string {
    const workspace = r.workspace_deleted ? 'workspace deleted' : r.workspace_path ? `workspace kept at ${r.workspace_path}` : 'workspace kept';
    const saved = r.saved_to ? `; work no remote had was saved to ${r.saved_to}` : '';
    const why = r.reason === 'closed' ? '' : ` (${r.reason.replace('_', ' ')})`;
    return `Closed ${paint(term, 'bold', r.session_id)}${why}: ${workspace}${saved}`;
  },

  review(r: ReviewResult, term: Terminal): string {
    if (r.decision === 'approve') return `${paint(term, 'green', 'Approved')}${r.push ? `: ${resultLine.push(r.push, term)}` : r.pr ? `: ${resultLine.pr(r.pr, term)}` : ''}`;
    const parts = [paint(term, 'red', 'Rejected')];
    if (r.fix) parts.push(`the agent's fix: ${resultLine.code(r.fix, term)}`);
    if (r.commit) parts.push(resultLine.commit(r.commit, term));
    if (r.awaiting_approval) parts.push('awaiting approval again');
    return parts.join('; ');
  },

  checks(r: ChecksResult, term: Terminal): string {
    const line = (c: CheckResult) =>
      `${c.passed ? paint(term, 'green', 'passed') : paint(term, 'red', 'FAILED')}  ${c.name} ${paint(term, 'dim', `(${c.timed_out ? 'timed out' : `exit ${c.exit_code ?? '-'}`}, ${duration(c.duration_ms)})`)}`;
    const failed = r.checks.filter((c) => !c.passed);
    const tails = failed.map((c) => `\n--- ${c.name} ---\n${c.output_tail.trimEnd()}`).join('\n');
    return `${r.checks.map(line).join('\n')}${tails ? `\n${tails}` : ''}`;
  },

  cancel(r: { session_id: string; task?: number; update_id?: string }, term: Terminal): string {
    const which = r.task !== undefined ? `task ${r.task}` : r.update_id ? `the task of update ${r.update_id}` : 'the running task';
    return `Asked ${paint(term, 'bold', r.session_id)} to cancel ${which}`;
  },
};
