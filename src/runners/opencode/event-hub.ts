// One `/global/event` subscription per OpenCode server, shared by every task on it and dispatched by
// session id; reconnected when it drops (the server sends a heartbeat every 10 s, so silence means a dead
// connection). A reconnect may lose events, so subscribers are told and check the session themselves.
import { setTimeout as sleep } from 'node:timers/promises';
import type { OpencodeClient } from '@opencode-ai/sdk/v2';
import { errorText } from './http.js';
import { sessionOf, type OcEvent } from './server-shapes.js';

/** Silence on the event stream (heartbeats come every 10 s) after which it is reconnected. */
const STREAM_SILENCE_MS = 35_000;

type Listener = (event: OcEvent) => void;
export interface Subscription {
  onEvent: Listener;
  /** Called after the stream reconnected (events may have been lost in between). */
  onReconnect: () => void;
}

export class EventHub {
  private readonly subs = new Map<string, Set<Subscription>>();
  private controller?: AbortController;
  private closed = false;
  private connected = false;
  private connections = 0;
  private lastError: unknown;
  private readyWaiters: Array<() => void> = [];
  private running?: Promise<void>;

  constructor(private readonly client: OpencodeClient) {}

  /** Resolves once the stream is connected (the server's first event arrived). */
  async ready(timeoutMs: number): Promise<void> {
    if (!this.running) this.running = this.loop();
    if (this.connected) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.readyWaiters = this.readyWaiters.filter((w) => w !== done);
        reject(new Error(`no event stream after ${timeoutMs} ms${this.lastError ? `: ${errorText(this.lastError)}` : ''}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.push(done);
    });
  }

  subscribe(sessionId: string, sub: Subscription): () => void {
    let set = this.subs.get(sessionId);
    if (!set) this.subs.set(sessionId, (set = new Set()));
    set.add(sub);
    return () => {
      set!.delete(sub);
      if (set!.size === 0 && this.subs.get(sessionId) === set) this.subs.delete(sessionId);
    };
  }

  close(): void {
    this.closed = true;
    this.controller?.abort();
  }

  private async loop(): Promise<void> {
    let delay = 200;
    while (!this.closed) {
      const controller = (this.controller = new AbortController());
      let lastSeen = Date.now();
      const watchdog = setInterval(() => {
        if (Date.now() - lastSeen > STREAM_SILENCE_MS) controller.abort();
      }, 2_000);
      watchdog.unref();
      try {
        const { stream } = await this.client.global.event({
          signal: controller.signal,
          sseMaxRetryAttempts: 1,
          onSseError: (error: unknown) => {
            this.lastError = error;
          },
        } as any);
        for await (const raw of stream as AsyncIterable<any>) {
          lastSeen = Date.now();
          if (!this.connected) {
            this.connected = true;
            this.connections += 1;
            delay = 200;
            const waiters = this.readyWaiters;
            this.readyWaiters = [];
            for (const w of waiters) w();
            if (this.connections > 1) this.notifyReconnect();
          }
          const event: OcEvent | undefined = raw && typeof raw === 'object' ? (raw.payload ?? raw) : undefined;
          if (event && typeof event.type === 'string') this.dispatch(event);
        }
      } catch (error) {
        this.lastError = error;
      } finally {
        clearInterval(watchdog);
        this.connected = false;
      }
      if (this.closed) break;
      await sleep(delay, undefined, { ref: false });
      delay = Math.min(delay * 2, 5_000);
    }
  }

  private dispatch(event: OcEvent): void {
    const sessionId = sessionOf(event);
    if (!sessionId) return;
    const set = this.subs.get(sessionId);
    if (!set) return;
    for (const sub of [...set]) {
      try {
        sub.onEvent(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }

  private notifyReconnect(): void {
    for (const set of this.subs.values()) {
      for (const sub of [...set]) {
        try {
          sub.onReconnect();
        } catch {
          // ignore
        }
      }
    }
  }
}
