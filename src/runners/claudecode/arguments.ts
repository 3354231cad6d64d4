// The command line of one `claude -p` run: output format, permissions, limits, tools and the session flag.
import type { ClaudeCodeSettings } from './settings.js';
import type { SessionMode } from './session-store.js';

export function claudeArgs(settings: ClaudeCodeSettings, session: SessionMode, maxCostUsd: number | undefined): string[] {
  const { model, max_turns, allowed_tools, disallowed_tools } = settings;
  // bypassPermissions: in -p mode anything not auto-approved is denied. As root the CLI refuses this mode
  // unless IS_SANDBOX=1 is in its environment (childEnv sets it).
  const args = ['-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'bypassPermissions'];
  args.push('--max-turns', String(max_turns));
  if (model) args.push('--model', model);
  // --tools restricts what is offered to the model; --allowedTools alone only auto-approves.
  // The `--flag=a,b` form keeps these variadic options from swallowing the arguments that follow.
  if (allowed_tools?.length) args.push(`--tools=${allowed_tools.join(',')}`, `--allowedTools=${allowed_tools.join(',')}`);
  if (disallowed_tools?.length) args.push(`--disallowedTools=${disallowed_tools.join(',')}`);
  // The CLI's own guard stops between model calls; the session's BudgetGuard judges the final figures.
  if (maxCostUsd !== undefined) args.push('--max-budget-usd', maxCostUsd.toFixed(6));
  args.push(session.flag, session.id);
  return args;
}
