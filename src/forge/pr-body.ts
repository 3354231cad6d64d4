// The description of a pull request coding_pr writes when the caller gives none: what the session did, from its
// own record (each task's instruction, result, files changed, checks and cost). Not from the agent's summaries:
// text a model wrote could carry whatever it read (a secret in a file, an injected link), and a pull request is
// published. Every configured secret is cut out of the result by the caller anyway.
import type { TaskRecord } from '../contract.js';

const INSTRUCTION_CHARS = 200;
const TASKS_SHOWN = 30;

export function pullRequestBody(session: { session_id: string; tasks: TaskRecord[]; tasks_run: number; cost: number }): string {
  const lines = [`Opened by station-coding for coding session \`${session.session_id}\`.`, ''];
  const tasks = session.tasks.slice(-TASKS_SHOWN);
  if (tasks.length > 0) {
    lines.push('## Tasks', '');
    if (session.tasks_run > tasks.length) lines.push(`(the last ${tasks.length} of ${session.tasks_run})`, '');
    for (const t of tasks) {
      const checks = t.checks ? `, checks ${t.checks.passed} passed${t.checks.failed ? ` / ${t.checks.failed} failed` : ''}` : '';
      const files = `${t.files_changed} file${t.files_changed === 1 ? '' : 's'} changed`;
      lines.push(`${t.task}. ${t.success ? '✅' : '❌'} ${oneLine(t.instruction)} (${files}${checks}, $${t.cost.toFixed(4)})`);
    }
    lines.push('');
  }
  lines.push(`Cost of the session: $${session.cost.toFixed(4)} over ${session.tasks_run} task${session.tasks_run === 1 ? '' : 's'}.`);
  return lines.join('\n');
}

function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > INSTRUCTION_CHARS ? `${line.slice(0, INSTRUCTION_CHARS - 1)}…` : line;
}
