// Following a session as it goes (`station-coding watch`): the status and the running task's heartbeat are read
// twice a second and what changed is passed on: the state, a task starting, the agent's events, the task's
// spending so far, a task's record once it ended. Reads only: watching never changes the session, and stopping
// (the signal) only stops watching.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProgressEvent, SessionStatus, TaskRecord, TaskRef } from '../contract.js';
import { liveOf, type CodingClient, type TaskLive } from './client.js';

export interface SessionObserver {
  /** The state or the operation under way changed (and once at the start). */
  state(status: SessionStatus): void;
  taskStarted(task: TaskRef): void;
  event(event: ProgressEvent): void;
  live(live: TaskLive): void;
  taskEnded(record: TaskRecord): void;
}

const POLL_MS = 500;

/** Follow `sessionId` until it closes (its final status) or `signal` aborts (the status last seen). */
export async function watchSession(client: CodingClient, sessionId: string, observer: SessionObserver, signal: AbortSignal, pollMs = POLL_MS): Promise<SessionStatus> {
  let last: SessionStatus | undefined;
  let running: number | undefined;
  let ended = 0;
  let seq = 0;
  for (;;) {
    const snapshot = await client.snapshot(sessionId);
    const status = snapshot.status;
    if (!last) ended = Math.max(0, ...status.tasks.map((t) => t.task)); // tasks that ended before we came are history
    for (const record of status.tasks.filter((t) => t.task > ended)) observer.taskEnded(record);
    ended = Math.max(ended, ...status.tasks.map((t) => t.task));
    if (!last || status.state !== last.state || status.busy !== last.busy) observer.state(status);
    if (status.running_task && status.running_task.task !== running) {
      observer.taskStarted(status.running_task);
      seq = 0;
    }
    running = status.running_task?.task;
    const progress = snapshot.progress;
    if (progress) {
      if (progress.seq < seq) seq = 0; // a new attempt of the task counts its events from the start again
      for (const event of progress.events.slice(Math.max(0, progress.events.length - (progress.seq - seq)))) observer.event(event);
      seq = Math.max(seq, progress.seq);
      observer.live(liveOf(progress));
    }
    last = status;
    if (snapshot.ended || status.state === 'closed' || status.state === 'failed') return status;
    try {
      await sleep(pollMs, undefined, { signal });
    } catch {
      return status;
    }
  }
}
