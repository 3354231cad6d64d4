// `station-coding watch <session_id>`: follow a session live (src/client/session-watch.ts) until it closes. At a
// terminal: its state changes, each task as it starts and ends, the agent's events, and the running task's status
// line (elapsed time, what it waits for, tokens and cost so far). Through a pipe, the same as plain lines; with
// --json one JSON object per line. Ctrl-C stops watching; the session goes on.
import type { Command } from 'commander';
import { countedTokens, SessionId, type SessionStatus, type TaskRecord } from '../../contract.js';
import type { SessionObserver } from '../session-watch.js';
import { LiveView } from '../views/live-view.js';
import { count, duration, money, paint, Terminal, type Tone } from '../views/terminal.js';
import { prepare, withConnection, type Finish } from './context.js';
import { described } from './options.js';

export function addWatchCommand(program: Command, finish: Finish): void {
  program
    .command('watch')
    .description('Follow a session live: state changes, each task and its tool calls as they happen, elapsed time, tokens and cost; until the session closes or Ctrl-C (which only stops watching).')
    .argument('<session_id>', described(SessionId))
    .action(async (sessionId: string, _options: unknown, command: Command) => finish(await watch(sessionId, command)));
}

async function watch(sessionId: string, command: Command): Promise<number> {
  const prepared = await prepare(command);
  const { watchSession } = await import('../session-watch.js');
  return withConnection(prepared, async ({ client }) => {
    const stop = new AbortController();
    const onSigint = () => stop.abort();
    process.once('SIGINT', onSigint);
    const json = Boolean(prepared.globals.json);
    const view = json ? undefined : new LiveView(process.stdout, Terminal.of(process.stdout), true);
    try {
      const observer = json ? jsonObserver() : humanObserver(view!, Terminal.of(process.stdout));
      const last = await watchSession(client, sessionId, observer, stop.signal);
      view?.stop();
      const closed = last.state === 'closed' || last.state === 'failed';
      if (json) console.log(JSON.stringify(closed ? { closed: last } : { stopped: true }));
      else console.log(closed ? `Session ${last.state}: ${totals(last)}` : 'Stopped watching; the session goes on.');
      return 0;
    } finally {
      view?.stop();
      process.removeListener('SIGINT', onSigint);
    }
  });
}

function totals(status: SessionStatus): string {
  return `${status.tasks_run} task${status.tasks_run === 1 ? '' : 's'}, ${count(countedTokens(status.tokens))} tokens, ${money(status.cost)}`;
}

function humanObserver(view: LiveView, term: Terminal | undefined): SessionObserver {
  const tone = (t: Tone, text: string) => (term ? paint(term, t, text) : text);
  return {
    state: (s) => view.print(`${tone('bold', s.session_id)} ${s.state}${s.busy ? `: ${s.busy}` : ''} ${tone('dim', `(${totals(s)})`)}`),
    taskStarted: (task) => {
      view.print(`task ${task.task} started: ${task.instruction}`);
      view.taskStarted();
    },
    event: (event) => view.event(event),
    live: (live) => view.update(live),
    taskEnded: (record) => {
      view.taskEnded();
      view.print(endedLine(record, tone));
    },
  };
}

function endedLine(r: TaskRecord, tone: (t: Tone, text: string) => string): string {
  const result = r.success ? tone('green', 'succeeded') : tone('red', r.error === 'cancelled' ? 'was cancelled' : 'failed');
  const figures = `${r.files_changed} file${r.files_changed === 1 ? '' : 's'} changed · ${duration(r.duration_ms)} · ${money(r.cost)}`;
  return `task ${r.task} ${result} (${figures})${!r.success && r.error && r.error !== 'cancelled' ? `: ${r.error}` : ''}`;
}

function jsonObserver(): SessionObserver {
  const line = (value: unknown) => console.log(JSON.stringify(value));
  return {
    state: (s) => line({ state: s.state, busy: s.busy ?? null, tasks_run: s.tasks_run, cost: s.cost }),
    taskStarted: (task) => line({ task_started: task }),
    event: (event) => line({ progress: event }),
    live: () => {},
    taskEnded: (record) => line({ task_ended: record }),
  };
}
