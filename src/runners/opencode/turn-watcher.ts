// One turn (one prompt) of one session, as seen on the server's event stream: progress while it runs,
// usage as it grows, permission asks rejected, and whether the turn finished or was stopped.
import type { AgentTask } from '../../core/runner.js';
import { zeroTokens } from '../../contract.js';
import { truncate } from '../../text.js';
import { safeProgress } from '../progress.js';
import type { OpenCodeError } from '../opencode-shared/errors.js';
import { addOpenCodeTokens, describeToolCall, describeToolResult } from '../opencode-shared/parts.js';
import type { OcEvent, OcMessageInfo, OcPart } from './server-shapes.js';

export class TurnWatcher {
  sent = false;
  finished = false;
  stopped = false;
  readonly errors: OpenCodeError[] = [];
  private sawActivity = false;
  private idleAfterStop = false;
  private checkRequested = false;
  private wake?: () => void;
  private idleWaiters: Array<() => void> = [];
  private readonly seenTools = new Map<string, 'called' | 'done'>();
  private readonly seenTexts = new Set<string>();
  private readonly stepUsage = new Map<string, OcMessageInfo>();

  constructor(
    private readonly task: AgentTask,
    private readonly messageId: string,
  ) {}

  onEvent(event: OcEvent, rejectPermission: (requestID: string) => void): void {
    const p = event.properties ?? {};
    switch (event.type) {
      case 'session.status': {
        const type = p.status?.type;
        if (type === 'busy' || type === 'retry') {
          if (this.sent) this.sawActivity = true;
          if (type === 'retry' && p.status?.message) {
            this.progress({ kind: 'text', text: truncate(`model provider retry ${p.status.attempt ?? ''}: ${p.status.message}`, 300) });
          }
        } else if (type === 'idle') this.onIdle();
        return;
      }
      case 'session.idle':
        this.onIdle();
        return;
      case 'session.error':
        if (p.error) this.errors.push(p.error as OpenCodeError);
        this.kick(true);
        return;
      case 'message.updated': {
        const info = p.info as OcMessageInfo | undefined;
        if (info?.role === 'assistant' && info.parentID === this.messageId) {
          this.sawActivity = true;
          this.reportUsage(info);
        }
        return;
      }
      case 'message.part.updated': {
        const part = p.part as OcPart | undefined;
        if (!part || !this.sent) return;
        // One prompt runs at a time per session, so parts updated while we wait belong to our turn.
        if (part.type === 'tool') this.onToolPart(part);
        else if (part.type === 'text' && part.time?.end && !part.synthetic && part.messageID !== this.messageId) {
          if (this.seenTexts.has(part.id) || !part.text?.trim()) return;
          this.seenTexts.add(part.id);
          this.progress({ kind: 'text', text: truncate(part.text, 500) });
        }
        return;
      }
      case 'permission.asked':
      case 'permission.updated': {
        const requestID = p.id ?? p.requestID;
        if (typeof requestID === 'string') {
          this.progress({ kind: 'text', text: truncate(`permission '${p.permission ?? p.type ?? '?'}' asked and rejected (non-interactive)`, 300) });
          rejectPermission(requestID);
        }
        return;
      }
      default:
        return;
    }
  }

  private onToolPart(part: OcPart): void {
    const tool = part.tool ?? 'unknown';
    const status = part.state?.status;
    const seen = this.seenTools.get(part.id);
    if (!seen && (status === 'running' || status === 'completed' || status === 'error')) {
      this.seenTools.set(part.id, 'called');
      this.progress({ kind: 'tool_call', tool, text: describeToolCall(tool, part.state) });
    }
    if (this.seenTools.get(part.id) !== 'done' && (status === 'completed' || status === 'error')) {
      this.seenTools.set(part.id, 'done');
      this.progress({ kind: 'tool_result', tool, text: describeToolResult(tool, part.state) });
    }
  }

  private onIdle(): void {
    if (this.stopped) this.idleAfterStop = true;
    for (const w of this.idleWaiters.splice(0)) w();
    if (!this.sent) return;
    if (this.sawActivity) {
      this.finished = true;
      this.kick(false);
    } else {
      // Idle before any sign of our prompt running: maybe a late event of the previous turn. Check.
      this.kick(true);
    }
  }

  /** After a reconnect: events may have been lost, so check the session ourselves. */
  poke(): void {
    this.kick(true);
  }

  finish(): void {
    this.finished = true;
    this.kick(false);
  }

  stop(): void {
    this.stopped = true;
    this.kick(false);
  }

  waitForChange(ms: number): Promise<void> {
    if (this.checkRequested || this.finished || this.stopped) {
      this.checkRequested = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }

  /** Wait (at most `ms`) for the session to go idle after stop(). */
  waitIdle(ms: number): Promise<void> {
    if (this.idleAfterStop) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const waiters = this.idleWaiters;
      function done() {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      }
      waiters.push(done);
    });
  }

  /** Each model step is an assistant message with its own running tokens and cost: report the turn's totals. */
  private reportUsage(info: OcMessageInfo): void {
    if (!this.task.usage) return;
    this.stepUsage.set(info.id, info);
    const tokens = zeroTokens();
    let cost = 0;
    for (const step of this.stepUsage.values()) {
      addOpenCodeTokens(tokens, step.tokens);
      if (typeof step.cost === 'number' && step.cost > 0) cost += step.cost;
    }
    this.task.usage(tokens, cost);
  }

  private kick(check: boolean): void {
    if (check) this.checkRequested = true;
    this.wake?.();
  }

  private progress(event: Parameters<AgentTask['progress']>[0]): void {
    safeProgress(this.task, event);
  }
}
