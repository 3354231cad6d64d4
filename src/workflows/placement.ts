// Where a session's operations run: on the worker that holds its workspace (its host task queue `<queue>@<worker>`),
// as a local activity when this workflow task already runs there (branch, commit), and, when that worker is lost
// and a checkpoint store is configured, on the worker that re-created the workspace (failover). Deterministic:
// the choices follow from the recorded outcomes and the patch markers.
import { ApplicationFailure, patched, proxyActivities, proxyLocalActivities, type ActivityOptions } from '@temporalio/workflow';
import type { Activities, OpenedSession, RestoredWorkspace } from '../activities/index.js';
import { failure, operationFailure } from './failures.js';
import { pickupTimedOut, restoreElsewhere, workerOf } from './failover.js';

export const HEARTBEAT_TIMEOUT = '20 seconds';
/** If the worker holding the workspace is gone this long, an operation fails instead of waiting forever. */
const HOST_PICKUP_TIMEOUT = '5 minutes';

export class Placement {
  /** An operation found the workspace's worker gone (it may come back: later operations still try it). */
  lost = false;
  /** The failover under way, which operations lost at the same time wait for. */
  private moving?: Promise<void>;

  constructor(
    /** The open session (its worker queue and workspace change with a failover). */
    private readonly opened: () => OpenedSession,
    /** The session moved from worker `from`: what the status says follows. */
    private readonly moved: (restored: RestoredWorkspace, from: string) => void,
  ) {}

  /** The activities of the worker that holds the workspace. */
  activities(summary: string, extra: Partial<ActivityOptions> = {}) {
    const opened = this.opened();
    return proxyActivities<Activities>({
      taskQueue: opened.worker_queue,
      startToCloseTimeout: '30 minutes',
      scheduleToStartTimeout: opened.worker_lost_after_ms ?? HOST_PICKUP_TIMEOUT,
      heartbeatTimeout: HEARTBEAT_TIMEOUT,
      retry: { maximumAttempts: opened.max_attempts, initialInterval: '1 second' },
      summary,
      ...extra,
    });
  }

  /**
   * Run an operation on the worker that holds the workspace. When that worker is lost (it did not pick the
   * operation up within worker_lost_after_sec) and a checkpoint store is configured, the session first moves to
   * another worker (failover), then the operation runs there.
   */
  async run<T>(operation: () => Promise<T>): Promise<T> {
    const queue = this.opened().worker_queue;
    try {
      return await operation();
    } catch (err) {
      if (!this.opened().checkpoint || !pickupTimedOut(err) || !patched('failover')) throw err;
      // Operations lost together move the session once: the first moves it, the others follow to where it went.
      if (this.opened().worker_queue === queue) await (this.moving ??= this.failover().finally(() => (this.moving = undefined)));
      return await operation();
    }
  }

  /**
   * A short git operation: first as a local activity, in this workflow task, which does it when its worker holds
   * the workspace (the usual case: workflow tasks stick to the worker that opened the session); otherwise, or in a
   * history from before this existed, as an activity on the workspace's worker. Both carry the same operation key,
   * so a retry on either path finds what the other did.
   */
  async quick<T>(summary: string, here: (local: Activities, queue: string, operation: string) => Promise<T | null>, there: () => Promise<T>, operation: string | undefined): Promise<T> {
    if (operation !== undefined && patched('local-git')) {
      const opened = this.opened();
      const local = proxyLocalActivities<Activities>({ startToCloseTimeout: '30 minutes', retry: { maximumAttempts: opened.max_attempts, initialInterval: '1 second' }, summary });
      const done = await here(local, opened.worker_queue, operation);
      if (done !== null) return done;
    }
    return this.run(there);
  }

  /** The failure an operation reports; an operation the workspace's worker never picked up names that worker. */
  failureOf(err: unknown, operation: string): ApplicationFailure {
    if (!pickupTimedOut(err)) return operationFailure(err);
    this.lost = true;
    const opened = this.opened();
    const worker = workerOf(opened);
    const waited = Math.round((opened.worker_lost_after_ms ?? 300_000) / 1000);
    return failure(
      `worker ${worker}, which holds the workspace ${opened.session.workspace_path}, did not pick up the ${operation} in ${waited}s: ` +
        `it is gone or stopped, and the workspace with everything not pushed is on that host. Start a worker with worker_id ${worker} to go on, or coding_close to end the session.`,
      'unavailable',
    );
  }

  /** Move the session to the worker that re-created its workspace, and pin to it. */
  private async failover(): Promise<void> {
    const opened = this.opened();
    const from = workerOf(opened);
    const restored = await restoreElsewhere(opened, HEARTBEAT_TIMEOUT);
    opened.worker_queue = restored.worker_queue;
    opened.worker_id = restored.worker_id;
    opened.session.workspace_path = restored.workspace_path;
    // The agent's conversation was stored on the lost host: the next task starts a new one.
    opened.session.backend_session_id = undefined;
    this.moved(restored, from);
  }
}
