// The rules of a best-of-N task (session.ts runs it): which backend each attempt uses, what share of the budget it
// may spend, which attempt wins, and the task's result made of them. Pure and deterministic: the choice is made
// in the workflow from what the attempts recorded, so a replay or a killed worker cannot change it.
import { addTokens, LOCAL_BACKENDS, zeroTokens, type AttemptRecord, type Backend, type Budget, type CodeRequest, type CodeResult } from '../contract.js';
import type { AttemptStat } from '../core/backend.js';

/** One attempt to run: its number and backend. */
export interface PlannedAttempt {
  n: number;
  backend: Backend;
}

/** The attempts a task asks for, or undefined for an ordinary task (one attempt in the session's workspace). */
export function plannedAttempts(req: CodeRequest, sessionBackend: Backend): PlannedAttempt[] | undefined {
  const count = req.attempts ?? req.backends?.length ?? 1;
  if (count <= 1 && !req.backends) return undefined;
  const backends = req.backends ?? [sessionBackend];
  return Array.from({ length: count }, (_, i) => ({ n: i + 1, backend: backends[i % backends.length]! }));
}

/** Why a best-of-N request cannot run in this session (checked before it reaches history), or undefined. */
export function attemptsRefusal(req: CodeRequest, sessionBackend: Backend | undefined): string | undefined {
  const remoteSession = sessionBackend !== undefined && !(LOCAL_BACKENDS as readonly string[]).includes(sessionBackend);
  if (req.attempts !== undefined && req.backends !== undefined && req.attempts < req.backends.length) {
    return `attempts: ${req.attempts} is fewer than the ${req.backends.length} backends given; give attempts of at least that many, or leave it out`;
  }
  if (remoteSession && ((req.attempts ?? 1) > 1 || req.backends)) {
    return 'attempts: best-of-N runs on the worker that holds the workspace; a nats session\'s workspace is on its coding agent: open the session with a local backend';
  }
  return undefined;
}

/** Each attempt's even share of what the task may spend, so that together they stay within it. */
export function attemptBudget(budget: Budget | undefined, attempts: number): Budget | undefined {
  if (!budget) return undefined;
  return {
    ...(budget.max_cost_usd !== undefined ? { max_cost_usd: budget.max_cost_usd / attempts } : {}),
    ...(budget.max_tokens !== undefined ? { max_tokens: Math.floor(budget.max_tokens / attempts) } : {}),
  };
}

/** What one attempt came to: its result (with checks, when they ran) and what its changes measure. */
export interface FinishedAttempt {
  planned: PlannedAttempt;
  result: CodeResult;
  stat: AttemptStat;
  /** The agent's last round ended well (whatever the checks said afterwards). */
  agent_finished: boolean;
}

export function attemptRecord({ planned, result, stat }: FinishedAttempt): AttemptRecord {
  const failed = result.checks?.filter((c) => !c.passed).length;
  return {
    n: planned.n,
    backend: planned.backend,
    success: result.success,
    ...(result.error ? { error: result.error } : {}),
    ...(result.checks ? { checks: { passed: result.checks.length - failed!, failed: failed! } } : {}),
    ...(result.fix_rounds ? { fix_rounds: result.fix_rounds } : {}),
    files_changed: stat.files,
    diff_stat: { insertions: stat.insertions, deletions: stat.deletions },
    tokens: result.trace.tokens,
    cost: result.trace.cost,
    duration_ms: result.trace.duration_ms,
  };
}

/**
 * The stated rule: an attempt that succeeded (its agent finished and every check passed) first; then one whose
 * agent finished (only checks failed) before one whose agent failed; then fewer failed checks; then one that
 * changed something before one that changed nothing (an unchanged workspace passes the checks it passed before);
 * then the smaller diff (lines added and removed); then the lower cost; then the earlier attempt.
 */
export function chooseAttempt(finished: FinishedAttempt[]): FinishedAttempt {
  const key = (f: FinishedAttempt) => {
    const r = attemptRecord(f);
    return [r.success ? 0 : 1, f.agent_finished ? 0 : 1, r.checks?.failed ?? 0, r.files_changed === 0 ? 1 : 0, r.diff_stat.insertions + r.diff_stat.deletions, r.cost, r.n];
  };
  return [...finished].sort((a, b) => {
    const [ka, kb] = [key(a), key(b)];
    const i = ka.findIndex((v, j) => v !== kb[j]);
    return i < 0 ? 0 : ka[i]! - kb[i]!;
  })[0]!;
}

/** The attempts' results as one: the first's words, every attempt's tokens and cost summed, the longest duration. */
export function spentByAll(results: CodeResult[]): CodeResult {
  const first = results[0]!;
  const tokens = results.reduce((sum, r) => addTokens(sum, r.trace.tokens), zeroTokens());
  const cost = results.reduce((sum, r) => sum + r.trace.cost, 0);
  // The attempts ran side by side: the task took as long as the longest.
  const duration_ms = Math.max(0, ...results.map((r) => r.trace.duration_ms));
  return { ...first, trace: { ...first.trace, tokens, cost, duration_ms } };
}

/** The task's result: the chosen attempt's, with every attempt's spending summed and every attempt listed. */
export function bestOfResult(finished: FinishedAttempt[], chosen: number | undefined, savedTo: string | undefined): CodeResult {
  const records = finished.map(attemptRecord);
  const winner = finished.find((f) => f.planned.n === chosen);
  const base = winner?.result ?? cancelledResult(finished);
  const { tokens, cost, duration_ms } = spentByAll(finished.map((f) => f.result)).trace;
  const summary = winner ? `Attempt ${winner.planned.n} of ${finished.length} (${winner.planned.backend}) chosen: ${winner.result.summary}` : base.summary;
  return {
    ...base,
    summary,
    trace: { ...base.trace, tokens, cost, duration_ms },
    attempts: records,
    ...(chosen !== undefined ? { chosen } : {}),
    ...(savedTo ? { attempts_saved_to: savedTo } : {}),
  };
}

function cancelledResult(finished: FinishedAttempt[]): CodeResult {
  const first = finished[0]!.result;
  return { ...first, success: false, summary: 'The task was cancelled; no attempt was applied.', error: 'cancelled', files_changed: [] };
}
