// Human-readable output of `station-coding run`.
import type { RunReport } from './run.js';

export function formatReport(report: RunReport): string {
  const lines: string[] = [];
  const code = report.code;
  if (code) {
    lines.push(`${code.success ? 'Task succeeded' : 'Task failed'}: ${code.summary.trim() || '(no summary)'}`);
    if (code.error && !code.success) lines.push(`Error: ${code.error}`);
    lines.push(code.files_changed.length ? 'Files changed:' : 'Files changed: none');
    for (const f of code.files_changed) lines.push(`  ${f.status.padEnd(8)} ${f.old_path ? `${f.old_path} -> ` : ''}${f.path}`);
    const t = code.trace.tokens;
    lines.push(`Cost: $${code.trace.cost.toFixed(4)}   Tokens: input ${t.input}, output ${t.output}, cache read ${t.cache_read}, cache write ${t.cache_write}`);
    lines.push(`Tool calls: ${code.trace.tool_calls.map((c) => c.tool).join(', ') || 'none'}   Duration: ${(code.trace.duration_ms / 1000).toFixed(1)}s`);
  }
  if (report.commit) {
    const c = report.commit;
    lines.push(`Commit ${c.commit_hash}: ${c.files_changed} file(s) changed, ${c.insertions} insertion(s), ${c.deletions} deletion(s)`);
  } else if (report.commit_skipped) {
    lines.push(`No commit: ${report.commit_skipped}`);
  }
  if (report.push?.awaiting_approval) {
    lines.push(`Push of ${report.push.branch} awaits approval; session ${report.session.session_id} stays open: station-coding approve|reject ${report.session.session_id}`);
  } else if (report.push) lines.push(`Pushed ${report.push.branch} to ${report.push.remote}`);
  if (report.brought_back) lines.push(`Branch ${report.brought_back.branch} is in ${report.brought_back.repository}`);
  if (report.close) {
    lines.push(`Session ${report.close.session_id} closed; workspace ${report.close.workspace_deleted ? 'deleted' : `kept at ${report.close.workspace_path}`}`);
    if (report.close.saved_to) lines.push(`Work that was on no remote was saved to ${report.close.saved_to}`);
  }
  if (report.error && !(code && !code.success)) lines.push(`Error: ${report.error}`);
  return lines.join('\n');
}
