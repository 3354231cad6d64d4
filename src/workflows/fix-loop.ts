// The rules of a task with checks (session.ts runs it): the agent's rounds add up to one task, the failing checks'
// output is the next round's instruction, and the task fails when its checks do. Pure and deterministic.
import { addTokens, type Budget, type CheckResult, type CodeResult, type FileChange, type TaskCheckpoint } from '../contract.js';
import { truncate } from '../text.js';

/** Where a task's checks run and whose budget its fix rounds spend (session.ts checkAndFix). */
export interface FixLoop {
  checks: () => Promise<CheckResult[]>;
  /** A best-of-N attempt's share of the budget, counted from what the attempt spent; unset: the session's budget. */
  budget?: Budget;
  /** A fix round starts. */
  fixing?: (round: number) => void;
  /** The rounds so far, as one result (what a failure in a later round still spent). */
  progress?: (sofar: CodeResult) => void;
}

/** How much of each failing check's output goes back to the agent. */
const OUTPUT_TO_AGENT = 3000;

export const allPassed = (checks: CheckResult[]) => checks.every((c) => c.passed);

/** The next round's instruction: what failed, with the end of its output. */
export function checksFixInstruction(checks: CheckResult[]): string {
  const failed = checks.filter((c) => !c.passed);
  const parts = failed.map((c) => {
    const how = c.timed_out ? 'timed out' : c.exit_code === null ? 'was stopped' : `exited with ${c.exit_code}`;
    return `### ${c.name} ${how}\n\`\`\`\n${truncate(c.output_tail, OUTPUT_TO_AGENT)}\n\`\`\``;
  });
  return `The checks failed after your changes:\n\n${parts.join('\n\n')}\n\nFix the code so that they pass. Do not commit or push.`;
}

/** Two rounds of one task as one result: their files, tokens, cost, time and tool calls together; the later one's words. */
export function mergeRounds(first: CodeResult, next: CodeResult): CodeResult {
  const files = new Map<string, FileChange>(first.files_changed.map((f) => [f.path, f]));
  for (const f of next.files_changed) {
    const earlier = files.get(f.path);
    if (earlier?.status === 'added' && f.status === 'deleted') files.delete(f.path); // made and removed again
    else files.set(f.path, earlier?.status === 'added' ? { ...f, status: 'added' } : f);
  }
  return {
    ...next,
    files_changed: [...files.values()],
    trace: {
      ...next.trace,
      tokens: addTokens(first.trace.tokens, next.trace.tokens),
      cost: first.trace.cost + next.trace.cost,
      duration_ms: first.trace.duration_ms + next.trace.duration_ms,
      ...(first.trace.num_turns !== undefined || next.trace.num_turns !== undefined ? { num_turns: (first.trace.num_turns ?? 0) + (next.trace.num_turns ?? 0) } : {}),
      tool_calls: [...first.trace.tool_calls, ...next.trace.tool_calls],
    },
  };
}

/** The task's result with its checks: it fails when they do (after `rounds` fix rounds), or when `stop` says why. */
export function withChecks(result: CodeResult, checks: CheckResult[], rounds: number, stop?: string): CodeResult {
  const failed = checks.filter((c) => !c.passed);
  const withFigures = { ...result, checks, fix_rounds: rounds };
  // Asked to verify with nothing to verify with: said, not passed silently.
  if (result.success && checks.length === 0) {
    return { ...withFigures, success: false, error: 'checks were asked for, but the session has none: configure coding.checks on the worker, or give checks in coding_open' };
  }
  if (!result.success || failed.length === 0) return withFigures;
  const which = failed.map((c) => `${c.name} (${c.timed_out ? 'timed out' : `exit ${c.exit_code ?? 'none'}`})`).join(', ');
  const after = rounds > 0 ? ` after ${rounds} fix round${rounds === 1 ? '' : 's'}` : '';
  return { ...withFigures, success: false, error: `checks failed${after}: ${which}${stop ? `; ${stop}` : ''}` };
}

/** What the rounds before a failure spent, with what the failing round's checkpoint says it spent. */
export function spentTogether(before: CodeResult | undefined, failing: TaskCheckpoint | undefined): TaskCheckpoint | undefined {
  if (!before) return failing;
  return {
    tokens: addTokens(before.trace.tokens, failing?.tokens ?? { input: 0, output: 0, reasoning: 0, cache_read: 0, cache_write: 0 }),
    cost: before.trace.cost + (failing?.cost ?? 0),
  };
}
