// Failover: when the worker holding a session's workspace is lost (it did not pick an operation up within
// worker_lost_after_sec), any other worker re-creates the workspace from the origin and the session's
// checkpoint (restoreWorkspace on the shared queue). Workflow-safe: the effects are the activity's.
import { ActivityFailure, TimeoutFailure, proxyActivities } from '@temporalio/workflow';
import type { Activities, OpenedSession, RestoredWorkspace } from '../activities/index.js';
import { failure, operationFailure } from './failures.js';

/** The worker that holds the workspace: as the activity said, or (a history from before it did) from its queue `<task_queue>@<worker_id>`. */
export function workerOf(placed: { worker_queue: string; worker_id?: string }): string {
  return placed.worker_id ?? placed.worker_queue.slice(placed.worker_queue.lastIndexOf('@') + 1);
}

/** The operation was never picked up: the worker serving its queue is gone or stopped. */
export function pickupTimedOut(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === 'SCHEDULE_TO_START';
}

/** Re-create the workspace on whichever worker takes restoreWorkspace from the shared queue. */
export async function restoreElsewhere(opened: OpenedSession, heartbeatTimeout: string): Promise<RestoredWorkspace> {
  const lost = workerOf(opened);
  const activities = proxyActivities<Activities>({
    startToCloseTimeout: '2 hours',
    heartbeatTimeout,
    retry: { maximumAttempts: opened.max_attempts, initialInterval: '2 seconds' },
    summary: `failover: re-create the workspace lost with worker ${lost}`,
  });
  try {
    return await activities.restoreWorkspace(opened.session);
  } catch (err) {
    throw failure(`worker ${lost}, which held the workspace, is lost, and the session could not move to another worker: ${operationFailure(err).message}`, 'unavailable');
  }
}
