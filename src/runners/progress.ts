// Progress from a runner to its task: a sink that throws must never break the task it reports on.
import type { AgentTask } from '../core/runner.js';
import type { ProgressEvent } from '../contract.js';

export function safeProgress(task: AgentTask, event: ProgressEvent): void {
  try {
    task.progress(event);
  } catch {
    // a failing progress sink must not break the task
  }
}
