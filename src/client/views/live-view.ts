// A running task as a person follows it (`run`, `code`, `watch`): each event of the agent on its own line, and at a
// terminal one status line under them, redrawn every second, so long work is never silent: how long the task has
// run, what it waits for (the model, a tool, a task slot) and what it has spent so far. Without a terminal there is
// no status line and each event is one plain line, as `--tail` always printed.
import { countedTokens, type ProgressEvent } from '../../contract.js';
import type { TaskLive } from '../client.js';
import { count, duration, fit, money, paint, type Terminal } from './terminal.js';

/** The status line appears once a task has run this long (a quick command does not flicker). */
const STATUS_AFTER_MS = 1500;
const REDRAW_MS = 1000;

/** One event as one line: `→` a tool call, `←` its result, `·` anything else (text, retries, notices). */
export function eventLine(event: ProgressEvent, term?: Terminal): string {
  const label = event.kind === 'tool_call' ? '→' : event.kind === 'tool_result' ? '←' : '·';
  const line = `  ${label} ${event.text}`;
  if (!term) return line;
  return fit(event.kind === 'tool_call' ? line : paint(term, 'dim', line), term.width);
}

export class LiveView {
  private started?: number;
  private live: TaskLive = {};
  private lastEvent?: ProgressEvent;
  private timer?: NodeJS.Timeout;
  private drawn = false;

  /** `term`: the terminal `out` writes to, if it is one. `events`: print the agent's events (else only the status line). */
  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly term: Terminal | undefined,
    private readonly events = true,
  ) {}

  /** A task started (or was found running, `since` ms ago). */
  taskStarted(since = 0): void {
    this.started = Date.now() - since;
    this.live = {};
    this.lastEvent = undefined;
    if (this.term && !this.timer) {
      this.timer = setInterval(() => this.draw(), REDRAW_MS);
      this.timer.unref();
    }
  }

  event(event: ProgressEvent): void {
    this.lastEvent = event;
    if (this.events) this.print(eventLine(event, this.term));
  }

  update(live: TaskLive): void {
    this.live = live;
  }

  /** A line of its own (a state change, a task's result), kept above the status line. */
  print(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.draw();
  }

  taskEnded(): void {
    this.started = undefined;
    this.clear();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.taskEnded();
  }

  /** The status line: `… 42s · waiting for the model · 1.2k tokens · $0.0123`. */
  statusLine(now = Date.now()): string | undefined {
    if (this.started === undefined || now - this.started < STATUS_AFTER_MS) return undefined;
    const parts = [`… ${duration(now - this.started)}`, `waiting for ${this.waitingFor()}`];
    if (this.live.tokens && countedTokens(this.live.tokens) > 0) parts.push(`${count(countedTokens(this.live.tokens))} tokens`);
    if (this.live.cost) parts.push(money(this.live.cost));
    return parts.join(' · ');
  }

  private waitingFor(): string {
    if (this.live.waiting) return `a task slot (${this.live.waiting.ahead} ahead, ${this.live.waiting.limit} at once)`;
    if (this.lastEvent?.kind === 'tool_call') return `a tool: ${this.lastEvent.text}`;
    // The latest word from the backend, e.g. that it retries an unreachable model: seen now, not at the end.
    if (this.lastEvent?.kind === 'text') return `the model (last: ${this.lastEvent.text.replace(/\s+/g, ' ')})`;
    return 'the model';
  }

  private draw(): void {
    if (!this.term) return;
    const line = this.statusLine();
    if (line === undefined) return this.clear();
    this.out.write(`\r\x1b[K${paint(this.term, 'cyan', fit(line, this.term.width - 1))}`);
    this.drawn = true;
  }

  private clear(): void {
    if (!this.drawn) return;
    this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
