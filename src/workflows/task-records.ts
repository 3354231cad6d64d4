// What a session records of a code task, and the result of a task that never ran or failed. Pure and
// workflow-safe.
import { zeroTokens, type Backend, type CodeResult, type TaskCheckpoint, type TaskRecord, type TaskRef } from '../contract.js';
import { oneLine } from '../text.js';

/** A failed (or cancelled) task's result: what it spent, if anything, and why. */
export function failedResult(backend: Backend, error: string, summary?: string, spent?: TaskCheckpoint): CodeResult {
  const trace = { backend, tokens: spent?.tokens ?? zeroTokens(), cost: spent?.cost ?? 0, duration_ms: 0, tool_calls: [] };
  return {
    success: false,
    summary: summary ?? (error === 'cancelled' ? 'The task was cancelled.' : `The task failed: ${error}`),
    error,
    files_changed: [],
    trace,
  };
}

/** The task's line in the session's record: its figures, its checks and attempts in short. */
export function taskRecord(task: TaskRef, result: CodeResult): TaskRecord {
  return {
    task: task.task,
    ...(task.update_id ? { update_id: task.update_id } : {}),
    instruction: task.instruction,
    success: result.success,
    files_changed: result.files_changed.length,
    duration_ms: result.trace.duration_ms,
    tokens: result.trace.tokens,
    cost: result.trace.cost,
    ...(result.error ? { error: oneLine(result.error, 300) } : {}),
    ...(result.checks ? { checks: { passed: result.checks.filter((c) => c.passed).length, failed: result.checks.filter((c) => !c.passed).length } } : {}),
    ...(result.fix_rounds ? { fix_rounds: result.fix_rounds } : {}),
    ...(result.attempts ? { attempts: result.attempts.length } : {}),
    ...(result.chosen ? { chosen: result.chosen } : {}),
  };
}
