// The session as the Temporal UI shows it: the workflow's current details (markdown), kept by the workflow
// itself so every session has them, whoever started it.
import type { SessionStatus } from '../contract.js';
import { oneLine } from '../text.js';

const TASKS_SHOWN = 10;

export function currentDetails(status: SessionStatus): string {
  const lines = [`### ${escape(status.title ?? status.session_id)}`, ''];
  const facts = [`**${status.state}**`];
  if (status.backend) facts.push(`backend \`${status.backend}\``);
  if (status.branch) facts.push(`branch \`${status.branch}\``);
  facts.push(`cost $${status.cost.toFixed(4)}`);
  facts.push(`tokens ${status.tokens.input} in / ${status.tokens.output} out`);
  lines.push(facts.join(' · '));
  if (status.repo_url) lines.push('', `repo: ${escape(status.repo_url)}`);
  const pending = status.awaiting_approval;
  if (pending) {
    const sid = status.session_id;
    lines.push(
      '',
      `**awaiting approval**: ${pending.operation} of \`${escape(pending.branch ?? 'HEAD')}\` to \`${escape(pending.remote)}\`${pending.commit_hash ? ` at \`${pending.commit_hash.slice(0, 10)}\`` : ''} (round ${pending.round}, asked for ${pending.requested_at})`,
      '',
      `${pending.files_changed} files changed, +${pending.insertions} -${pending.deletions} · see it: \`station-coding diff ${sid}\``,
      '',
      `approve: \`station-coding approve ${sid}\` or \`temporal workflow signal --workflow-id ${sid} --name review --input '{"decision":"approve"}'\``,
      '',
      `reject: \`station-coding reject ${sid} --feedback "..."\` or signal \`review\` with \`{"decision":"reject","feedback":"..."}\``,
    );
  }
  if (status.busy) lines.push('', `running: **${status.busy}**${status.running_task ? ` (task ${status.running_task.task}: ${escape(oneLine(status.running_task.instruction, 80))})` : ''}`);
  const attempts = status.running_attempts ?? [];
  for (const a of attempts) {
    const checks = a.checks ? `: checks ${a.checks.passed}/${a.checks.passed + a.checks.failed} passed` : '';
    lines.push('', `attempt ${a.n}/${attempts.length} (${a.backend}): ${a.state}${checks}`);
  }
  if (status.queued_tasks.length > 0) lines.push('', `queued tasks: ${status.queued_tasks.map((t) => t.task).join(', ')}`);
  const tasks = status.tasks.slice(-TASKS_SHOWN);
  if (tasks.length > 0) {
    lines.push('', '| task | instruction | result | files | tokens | cost |', '|---|---|---|---|---|---|');
    for (const t of tasks) {
      const result = t.success ? 'ok' : `failed: ${escape(oneLine(t.error ?? '', 60))}`;
      lines.push(`| ${t.task} | ${escape(oneLine(t.instruction, 60))} | ${result} | ${t.files_changed} | ${t.tokens.input + t.tokens.output} | $${t.cost.toFixed(4)} |`);
    }
  }
  if (status.last_error) lines.push('', `last error: ${escape(oneLine(status.last_error, 300))}`);
  lines.push('', `\`temporal workflow query --workflow-id ${status.session_id} --name status\``);
  return lines.join('\n');
}

/** Markdown table cells and emphasis must not be broken by what a caller wrote. */
function escape(text: string): string {
  return text.replace(/[|*_`<>]/g, (c) => `\\${c}`);
}
