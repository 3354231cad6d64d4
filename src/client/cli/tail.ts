// How a command shows a running task on stderr (stdout keeps the result). At a terminal: a status line that says
// the task is alive (elapsed time, what it waits for, spending so far), and with --tail the agent's events above it.
// Through a pipe: with --tail one plain line per event, as always, else nothing. With --json: with --tail one JSON
// object per event line, else nothing.
import type { ProgressEvent } from '../../contract.js';
import type { TaskLive } from '../client.js';
import { LiveView } from '../views/live-view.js';
import { Terminal } from '../views/terminal.js';

export interface TaskFeed {
  onProgress?: (event: ProgressEvent) => void;
  onLive?: (live: TaskLive) => void;
  /** A line beside the task's own (a step of `run`), kept above the status line. */
  say(line: string): void;
  start(): void;
  end(): void;
}

export function taskFeed(json: boolean | undefined, tail: boolean | undefined): TaskFeed {
  const say = (line: string) => console.error(line);
  if (json) return { onProgress: tail ? (event) => console.error(JSON.stringify({ progress: event })) : undefined, say, start() {}, end() {} };
  const term = Terminal.of(process.stderr);
  if (!term && !tail) return { say, start() {}, end() {} };
  const view = new LiveView(process.stderr, term, Boolean(tail));
  return {
    // Without --tail the view still hears the events: the status line says which tool the task waits for.
    onProgress: (event) => view.event(event),
    onLive: term ? (live) => view.update(live) : undefined,
    say: (line) => view.print(line),
    start: () => view.taskStarted(),
    end: () => view.stop(),
  };
}
