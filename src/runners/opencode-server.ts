// The `opencode` runner: an OpenCode server over HTTP, through the official client (@opencode-ai/sdk/v2,
// pinned to the binary's version). One server serves many coding sessions at once, each in its own
// workspace: every call carries `directory` = the task's workspace.
//
// A task: create the OpenCode session (first task) or reuse task.backend_session_id; send the prompt with
// prompt_async under a message id we choose ourselves; follow the server's event stream for that session
// (tool calls appear as progress while they run) until it goes idle; then build the result from the real
// messages of this turn (the assistant messages whose parentID is our message).
//
// Never twice: if sending fails (network error, 5xx), the session's messages are listed to see whether our
// message id was already taken before sending again.
//
// Events: one `/global/event` subscription per server, shared by every task on it and dispatched by
// session id; reconnected when it drops (the server sends a heartbeat every 10 s, so silence means a dead
// connection). A reconnect may lose events, so every waiting task then checks the session status itself.
//
// Without `url`, the runner starts its own `opencode serve` on 127.0.0.1 (lazily, with the isolated
// environment of opencode-shared/env.ts and a random password) and stops it in shutdown().
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { createOpencodeClient, type OpencodeClient } from '@opencode-ai/sdk/v2';
import { execa, type ResultPromise } from 'execa';
import type { AgentOutcome, AgentRunner, AgentTask } from '../backends/backend.js';
import { zeroTokens, type ToolCall } from '../contract.js';
import { CodingError } from '../backends/errors.js';
import { truncate } from '../process/process.js';
import { effectiveTimeoutMs } from './task-limits.js';
import { resolveOpenCodeBinary } from './opencode-shared/binary.js';
import { parseModel, type OpenCodeModelSettings } from './opencode-shared/config.js';
import { prepareOpenCodeEnv } from './opencode-shared/env.js';
import { isAbortError, isProviderError, openCodeErrorMessage, providerError, type OpenCodeError } from './opencode-shared/errors.js';
import {
  addOpenCodeTokens,
  describeToolCall,
  describeToolResult,
  toolCallOf,
  type OpenCodeTokenInfo,
  type OpenCodeToolState,
} from './opencode-shared/parts.js';

export interface OpenCodeServerSettings extends OpenCodeModelSettings {
  /** URL of a running OpenCode server; without it the runner starts and manages its own. */
  url?: string;
  /** The server's OPENCODE_SERVER_PASSWORD (basic auth). A managed server gets a random one when unset. */
  password?: string;
  /** Basic auth user name (OpenCode's default: "opencode"). */
  username?: string;
  timeout_sec: number;
  /** The opencode binary for a managed server (default: the one of the opencode-ai package, else PATH). */
  binary_path?: string;
}

/** Timeout of each ordinary HTTP call to the server (not of the task). */
const CALL_TIMEOUT_MS = 30_000;
/** How long the first event-stream connection may take before the server counts as unreachable. */
const CONNECT_TIMEOUT_MS = 15_000;
/** Silence on the event stream (heartbeats come every 10 s) after which it is reconnected. */
const STREAM_SILENCE_MS = 35_000;
/** How often a waiting task checks the session status itself, in case an event was lost. */
const POLL_INTERVAL_MS = 5_000;
/** After abort: how long to wait for the session to go idle before returning anyway. */
const ABORT_SETTLE_MS = 5_000;
const SEND_ATTEMPTS = 3;
/** A running task gives up on a server that has not answered for this long. */
const SERVER_LOST_MS = 60_000;

// ---------------------------------------------------------------------------------------------------
// Message ids as OpenCode makes them (Identifier.ascending): "msg_" + 12 hex digits of
// (ms timestamp * 0x1000 + counter) mod 2^48 + 14 random base62 characters. Messages sort by id, so a
// client-chosen id must follow the same scheme.
let lastIdTime = 0;
let idCounter = 0;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export function newMessageId(now = Date.now()): string {
  if (now !== lastIdTime) {
    lastIdTime = now;
    idCounter = 0;
  }
  idCounter += 1;
  const value = (BigInt(now) * 0x1000n + BigInt(idCounter)) & ((1n << 48n) - 1n);
  let random = '';
  for (const byte of randomBytes(14)) random += BASE62[byte % 62];
  return `msg_${value.toString(16).padStart(12, '0')}${random}`;
}

// ---------------------------------------------------------------------------------------------------
// Minimal shapes of what we read from the server (the SDK's unions are large and change between versions).
interface OcEvent {
  type: string;
  properties?: any;
}
interface OcMessageInfo {
  id: string;
  sessionID?: string;
  role: 'user' | 'assistant' | string;
  parentID?: string;
  time?: { created?: number; completed?: number };
  error?: OpenCodeError;
  tokens?: OpenCodeTokenInfo;
  cost?: number;
  finish?: string;
}
interface OcPart {
  id: string;
  sessionID?: string;
  messageID?: string;
  type: string;
  text?: string;
  synthetic?: boolean;
  ignored?: boolean;
  time?: { start?: number; end?: number };
  tool?: string;
  state?: OpenCodeToolState;
  tokens?: OpenCodeTokenInfo;
  cost?: number;
}
interface OcMessage {
  info: OcMessageInfo;
  parts: OcPart[];
}

/** The session an event is about, if any. */
function sessionOf(event: OcEvent): string | undefined {
  const p = event.properties;
  if (!p || typeof p !== 'object') return undefined;
  if (typeof p.sessionID === 'string') return p.sessionID;
  if (p.part && typeof p.part.sessionID === 'string') return p.part.sessionID;
  if (p.info && typeof p.info.sessionID === 'string') return p.info.sessionID;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------
// One server: its client, its shared event stream.

type Listener = (event: OcEvent) => void;
interface Subscription {
  onEvent: Listener;
  /** Called after the stream reconnected (events may have been lost in between). */
  onReconnect: () => void;
}

class EventHub {
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
      await sleep(delay, true);
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

interface ServerHandle {
  url: string;
  client: OpencodeClient;
  hub: EventHub;
}

interface ManagedServer {
  url: string;
  child: ResultPromise;
  exited: boolean;
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------

export class OpenCodeServerRunner implements AgentRunner {
  readonly name = 'opencode' as const;
  private handle?: Promise<ServerHandle>;
  private managed?: ManagedServer;
  private readonly password?: string;
  private stopped = false;
  private readonly active = new Set<{ stop: () => void; done: Promise<void> }>();

  constructor(private readonly settings: OpenCodeServerSettings) {
    // A server we start ourselves always gets a password: anyone on this machine could otherwise drive it.
    this.password = settings.password ?? (settings.url ? undefined : randomBytes(24).toString('base64url'));
  }

  /** The server URL in use (the managed server's once started). */
  get url(): string | undefined {
    return this.settings.url ?? this.managed?.url;
  }

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    if (task.signal.aborted) return emptyOutcome(started, task.backend_session_id, 'cancelled');
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const model = this.settings.model ? parseModel(this.settings.model) : undefined;
    const server = await this.server();
    const { client, url } = server;
    const directory = task.workspace_path;

    // A quick look first: a server that is down or refuses our credentials fails here, clearly.
    await call(url, 'health check', () => client.global.health({ signal: AbortSignal.timeout(10_000) }));
    try {
      await server.hub.ready(CONNECT_TIMEOUT_MS);
    } catch (error) {
      throw unavailable(url, `event stream: ${errorText(error)}`);
    }

    // The OpenCode session: reuse, or create on the first task.
    let sessionId = task.backend_session_id;
    if (!sessionId) {
      const created = await call(url, 'create session', () =>
        client.session.create(
          { directory, title: truncate(task.title?.trim() || `station-coding ${task.session_id}`, 100) },
          { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
        ),
      );
      sessionId = (created as { id?: string })?.id;
      if (!sessionId) throw new CodingError(`OpenCode server at ${url} created a session without an id`, 'unavailable', true);
    }
    const sid = sessionId;

    const messageId = newMessageId();
    const turn = new TurnWatcher(task, messageId);
    const unsubscribe = server.hub.subscribe(sid, {
      onEvent: (event) => turn.onEvent(event, (requestID) => this.rejectPermission(client, directory, requestID)),
      onReconnect: () => turn.poke(),
    });

    let stopReason: 'cancelled' | 'timeout' | 'shutdown' | undefined;
    const timer = setTimeout(() => {
      stopReason ??= 'timeout';
      turn.stop();
    }, timeoutMs);
    const onAbort = () => {
      stopReason ??= 'cancelled';
      turn.stop();
    };
    task.signal.addEventListener('abort', onAbort, { once: true });
    let settled!: () => void;
    const active = {
      stop: () => {
        stopReason ??= 'shutdown';
        turn.stop();
      },
      done: new Promise<void>((resolve) => (settled = resolve)),
    };
    this.active.add(active);

    try {
      turn.sent = true; // from here on, parts and status changes of this session are ours
      await this.send(client, url, directory, sid, messageId, task.prompt, model);

      // Wait for the end of the turn: the session goes idle (event), or the poll finds it idle.
      let failingSince: number | undefined;
      while (!turn.finished && !turn.stopped) {
        await turn.waitForChange(POLL_INTERVAL_MS);
        if (turn.finished || turn.stopped) break;
        // Woken by a hint (idle without our activity seen, an error, a reconnect) or the poll interval:
        // look at the session ourselves, in case an event was lost. A failed look is not the end of the
        // task (the prompt may still be running there); a server gone for long is.
        try {
          if (await this.turnIsOver(client, url, directory, sid, messageId)) turn.finish();
          failingSince = undefined;
        } catch (error) {
          failingSince ??= Date.now();
          if (Date.now() - failingSince > SERVER_LOST_MS) throw error;
        }
      }

      if (turn.stopped && !turn.finished) {
        // Cancel or timeout: abort the run on the server, give it a moment to settle, report what happened.
        await this.abort(client, directory, sid);
        await turn.waitIdle(ABORT_SETTLE_MS);
      }

      const messages = await this.turnMessages(client, url, directory, sid, messageId, turn.stopped);
      const { result, errors: messageErrors } = buildOutcome(messages, messageId, started, sid);
      if (stopReason === 'cancelled') return { ...result, error: 'cancelled' };
      if (stopReason === 'timeout') return { ...result, error: `timed out after ${Math.round(timeoutMs / 1000)}s` };
      if (stopReason === 'shutdown') return { ...result, error: 'cancelled: the worker is shutting down' };
      const errors = [...messageErrors, ...turn.errors.filter((e) => !messageErrors.some((o) => sameError(o, e)))];
      const providerFailure = errors.find(isProviderError);
      if (providerFailure) throw providerError(providerFailure);
      const real = errors.filter((e) => !isAbortError(e));
      if (real.length > 0) {
        return { ...result, error: truncate(`opencode: ${real.map(openCodeErrorMessage).join('; ')}`, 2000) };
      }
      // Aborted by someone else (another client of the server).
      if (errors.length > 0) return { ...result, error: 'cancelled' };
      return { ...result, success: true };
    } finally {
      clearTimeout(timer);
      task.signal.removeEventListener('abort', onAbort);
      unsubscribe();
      this.active.delete(active);
      settled();
    }
  }

  /** Stop running tasks (abort on the server), then close the event stream and stop a managed server. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    const running = [...this.active];
    for (const a of running) a.stop();
    await Promise.race([Promise.all(running.map((a) => a.done)), sleep(ABORT_SETTLE_MS + 5_000, true)]);
    const handle = this.handle;
    this.handle = undefined;
    if (handle) {
      try {
        (await handle).hub.close();
      } catch {
        // the server never came up
      }
    }
    const managed = this.managed;
    this.managed = undefined;
    if (managed) await managed.stop();
  }

  // ---- the server ----

  private server(): Promise<ServerHandle> {
    if (this.stopped) return Promise.reject(new CodingError('the OpenCode runner was shut down', 'unavailable', true));
    if (this.managed?.exited) {
      // Our server died: start a new one on the next task.
      this.managed = undefined;
      const old = this.handle;
      this.handle = undefined;
      void old?.then((h) => h.hub.close()).catch(() => undefined);
    }
    if (!this.handle) {
      const handle = this.connect();
      this.handle = handle;
      handle.catch(() => {
        if (this.handle === handle) this.handle = undefined;
      });
    }
    return this.handle;
  }

  private async connect(): Promise<ServerHandle> {
    let url = this.settings.url;
    if (!url) {
      this.managed = await this.startManaged();
      url = this.managed.url;
    }
    url = url.replace(/\/+$/, '');
    const headers: Record<string, string> = {};
    if (this.password) {
      // Built in memory only; never logged, never part of a URL.
      const user = this.settings.username ?? 'opencode';
      headers.authorization = `Basic ${Buffer.from(`${user}:${this.password}`).toString('base64')}`;
    }
    const client = createOpencodeClient({ baseUrl: url, headers });
    return { url, client, hub: new EventHub(client) };
  }

  private async startManaged(): Promise<ManagedServer> {
    const binary = resolveOpenCodeBinary(this.settings.binary_path);
    const { env, dir } = await prepareOpenCodeEnv(this.settings, 'server', {
      OPENCODE_SERVER_PASSWORD: this.password,
      OPENCODE_SERVER_USERNAME: this.password ? (this.settings.username ?? 'opencode') : undefined,
    });
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      try {
        return await launchServer(binary, port, env, dir);
      } catch (error) {
        lastError = error;
        if (error instanceof CodingError && error.kind === 'binary_missing') throw error;
      }
    }
    throw new CodingError(`could not start 'opencode serve': ${errorText(lastError)}`, 'unavailable', true);
  }

  // ---- sending, exactly once ----

  private async send(
    client: OpencodeClient,
    url: string,
    directory: string,
    sessionId: string,
    messageId: string,
    prompt: string,
    model: { providerID: string; modelID: string } | undefined,
  ): Promise<void> {
    let lastFailure = '';
    for (let attempt = 1; attempt <= SEND_ATTEMPTS; attempt++) {
      if (attempt > 1) {
        // Did the server take it after all (the response was lost, or a 5xx after accepting)?
        if (await this.promptTaken(client, url, directory, sessionId, messageId)) return;
        await sleep(500 * 2 ** (attempt - 2));
        if (await this.promptTaken(client, url, directory, sessionId, messageId)) return;
      }
      const response = await client.session
        .promptAsync(
          { sessionID: sessionId, directory, messageID: messageId, ...(model ? { model } : {}), parts: [{ type: 'text', text: prompt }] },
          { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
        )
        .catch((error: unknown) => ({ error, response: undefined, data: undefined }));
      const status = response.response?.status;
      if (status !== undefined && status >= 200 && status < 300) return;
      if (status === undefined) {
        lastFailure = `network error: ${errorText(response.error)}`;
        continue;
      }
      if (status >= 500) {
        lastFailure = `HTTP ${status}: ${errorText(response.error)}`;
        continue;
      }
      throw httpError(url, 'send prompt', status, response.error);
    }
    // One last look before giving up: an accepted prompt must not be reported as not sent.
    if (await this.promptTaken(client, url, directory, sessionId, messageId)) return;
    throw unavailable(url, `sending the prompt failed ${SEND_ATTEMPTS} times (${lastFailure}); it was not taken`);
  }

  private async promptTaken(
    client: OpencodeClient,
    url: string,
    directory: string,
    sessionId: string,
    messageId: string,
  ): Promise<boolean> {
    const messages = await recentMessages(client, url, directory, sessionId, messageId, CALL_TIMEOUT_MS);
    return messages.some((m) => m.info?.id === messageId);
  }

  // ---- following the turn ----

  /** Polled check: the session is not busy and our turn has a completed reply (or an error). */
  private async turnIsOver(
    client: OpencodeClient,
    url: string,
    directory: string,
    sessionId: string,
    messageId: string,
  ): Promise<boolean> {
    const statuses = (await call(url, 'session status', () =>
      client.session.status({ directory }, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) }),
    )) as Record<string, { type?: string }> | undefined;
    const status = statuses?.[sessionId]?.type ?? 'idle';
    if (status !== 'idle') return false;
    // Only the newest messages matter: once the session is idle, the last reply of our turn is the last one.
    const messages = await recentMessages(client, url, directory, sessionId, undefined, CALL_TIMEOUT_MS, 5);
    const replies = messages.filter((m) => m.info?.role === 'assistant' && m.info.parentID === messageId);
    const last = replies[replies.length - 1];
    return Boolean(last && (last.info.time?.completed || last.info.error));
  }

  private async turnMessages(
    client: OpencodeClient,
    url: string,
    directory: string,
    sessionId: string,
    messageId: string,
    bestEffort: boolean,
  ): Promise<OcMessage[]> {
    try {
      return await recentMessages(client, url, directory, sessionId, messageId, bestEffort ? 5_000 : CALL_TIMEOUT_MS);
    } catch (error) {
      if (bestEffort) return [];
      throw error;
    }
  }

  private async abort(client: OpencodeClient, directory: string, sessionId: string): Promise<void> {
    try {
      await client.session.abort({ sessionID: sessionId, directory }, { signal: AbortSignal.timeout(5_000) });
    } catch {
      // best effort: the task ends anyway
    }
  }

  private rejectPermission(client: OpencodeClient, directory: string, requestID: string): void {
    void client.permission
      .reply(
        { requestID, directory, reply: 'reject', message: 'permission asks cannot be answered in a non-interactive coding session' },
        { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
      )
      .catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------------
// One turn (one prompt) of one session, as seen on the event stream.

class TurnWatcher {
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
    try {
      this.task.progress(event);
    } catch {
      // a failing progress sink must not break the task
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The result, from the real messages of the turn.

function buildOutcome(
  messages: OcMessage[],
  messageId: string,
  started: number,
  sessionId: string,
): { result: AgentOutcome; errors: OpenCodeError[] } {
  const replies = messages.filter((m) => m.info?.role === 'assistant' && m.info.parentID === messageId);
  const tokens = zeroTokens();
  let cost = 0;
  let steps = 0;
  const toolCalls: ToolCall[] = [];
  const errors: OpenCodeError[] = [];
  let summary = '';
  for (const message of replies) {
    const parts = Array.isArray(message.parts) ? message.parts : [];
    const stepFinishes = parts.filter((p) => p.type === 'step-finish');
    if (stepFinishes.length > 0) {
      // Per-step numbers: exact even when one message holds several steps.
      for (const step of stepFinishes) {
        addOpenCodeTokens(tokens, step.tokens);
        if (typeof step.cost === 'number' && step.cost > 0) cost += step.cost;
      }
      steps += stepFinishes.length;
    } else {
      addOpenCodeTokens(tokens, message.info.tokens);
      if (typeof message.info.cost === 'number' && message.info.cost > 0) cost += message.info.cost;
      if (message.info.time?.completed) steps += 1;
    }
    for (const part of parts) {
      if (part.type !== 'tool') continue;
      const call = toolCallOf(part.tool ?? 'unknown', part.state);
      if (call) toolCalls.push(call);
      else if (part.state && (part.state.status === 'pending' || part.state.status === 'running')) {
        // Interrupted (abort/timeout) while running: report it as failed.
        toolCalls.push({ tool: part.tool ?? 'unknown', input: part.state.input ?? {}, error: 'interrupted' });
      }
    }
    const text = parts
      .filter((p) => p.type === 'text' && !p.synthetic && !p.ignored && p.text?.trim())
      .map((p) => p.text!.trim())
      .join('\n\n');
    if (text) summary = text;
    if (message.info.error) errors.push(message.info.error);
  }
  const result: AgentOutcome = {
    success: false,
    summary,
    backend_session_id: sessionId,
    tokens,
    cost,
    duration_ms: Date.now() - started,
    num_turns: steps,
    tool_calls: toolCalls,
  };
  return { result, errors };
}

function emptyOutcome(started: number, sessionId: string | undefined, error: string): AgentOutcome {
  return {
    success: false,
    summary: '',
    error,
    backend_session_id: sessionId,
    tokens: zeroTokens(),
    cost: 0,
    duration_ms: Date.now() - started,
    num_turns: 0,
    tool_calls: [],
  };
}

function sameError(a: OpenCodeError, b: OpenCodeError): boolean {
  return a.name === b.name && openCodeErrorMessage(a) === openCodeErrorMessage(b);
}

// ---------------------------------------------------------------------------------------------------
// HTTP helpers: every failure becomes a CodingError that says which server and what to do.

interface SdkResult {
  data?: unknown;
  error?: unknown;
  response?: Response;
}

async function call(url: string, what: string, fn: () => Promise<SdkResult>): Promise<unknown> {
  let result: SdkResult;
  try {
    result = await fn();
  } catch (error) {
    throw unavailable(url, `${what}: ${errorText(error)}`);
  }
  const status = result.response?.status;
  if (status === undefined) throw unavailable(url, `${what}: ${errorText(result.error)}`);
  if (status >= 200 && status < 300) return result.data;
  throw httpError(url, what, status, result.error);
}

/**
 * The newest messages of a session, oldest first: pages of `pageSize` read backwards (the server answers
 * `limit` with the newest messages and an `x-next-cursor` for the older ones) until the page that holds
 * `untilId` (or anything older: ids sort by time) — or just one page when `untilId` is undefined. This
 * keeps long sessions from being listed whole on every look.
 */
async function recentMessages(
  client: OpencodeClient,
  url: string,
  directory: string,
  sessionId: string,
  untilId: string | undefined,
  timeoutMs: number,
  pageSize = 100,
): Promise<OcMessage[]> {
  let collected: OcMessage[] = [];
  let before: string | undefined;
  for (let page = 0; page < 1000; page++) {
    let result: SdkResult;
    try {
      result = await client.session.messages(
        { sessionID: sessionId, directory, limit: pageSize, ...(before ? { before } : {}) },
        { signal: AbortSignal.timeout(timeoutMs) },
      );
    } catch (error) {
      throw unavailable(url, `list messages: ${errorText(error)}`);
    }
    const status = result.response?.status;
    if (status === undefined) throw unavailable(url, `list messages: ${errorText(result.error)}`);
    if (status < 200 || status >= 300) throw httpError(url, 'list messages', status, result.error);
    const messages = Array.isArray(result.data) ? (result.data as OcMessage[]) : [];
    collected = [...messages, ...collected];
    if (untilId === undefined) break;
    if (messages.some((m) => typeof m.info?.id === 'string' && m.info.id <= untilId)) break;
    const next = result.response?.headers.get('x-next-cursor');
    if (!next || messages.length === 0) break;
    before = next;
  }
  return collected;
}

function httpError(url: string, what: string, status: number, body: unknown): CodingError {
  const detail = errorText(body);
  if (status === 401 || status === 403) {
    return new CodingError(
      `OpenCode server at ${url} refused ${what} (HTTP ${status}): set the server password (coding.opencode.password / OPENCODE_SERVER_PASSWORD)`,
      'auth',
      false,
    );
  }
  if (status === 404) return new CodingError(`OpenCode server at ${url}: ${what}: ${detail || 'not found'}`, 'not_found', false);
  if (status >= 500) return unavailable(url, `${what}: HTTP ${status} ${detail}`);
  return new CodingError(`OpenCode server at ${url}: ${what} failed (HTTP ${status}): ${detail}`, 'invalid_input', false);
}

function unavailable(url: string, detail: string): CodingError {
  return new CodingError(`OpenCode server at ${url} is unreachable or failing (${detail})`, 'unavailable', true);
}

function errorText(error: unknown): string {
  if (error === undefined || error === null) return '';
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? cause.message : (cause as { code?: string } | undefined)?.code;
    return truncate(causeText && !error.message.includes(causeText) ? `${error.message}: ${causeText}` : error.message, 500);
  }
  if (typeof error === 'string') return truncate(error, 500);
  const named = error as { data?: { message?: string }; message?: string; name?: string };
  return truncate(named.data?.message ?? named.message ?? named.name ?? JSON.stringify(error), 500);
}

// ---------------------------------------------------------------------------------------------------
// A managed `opencode serve`.

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function launchServer(binary: string, port: number, env: Record<string, string>, cwd: string): Promise<ManagedServer> {
  const child = execa(binary, ['serve', '--hostname', '127.0.0.1', '--port', String(port)], {
    cwd,
    env,
    extendEnv: false,
    detached: true, // own process group: stopping it stops its tools' children too
    reject: false,
    buffer: false,
    stdin: 'ignore',
    encoding: 'utf8',
  });
  const pid = child.pid;
  const killGroup = (signal: NodeJS.Signals) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // gone
    }
  };
  // If the worker exits without shutdown(), do not leave the server behind.
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  let output = '';
  const server: ManagedServer = {
    url: '',
    child,
    exited: false,
    async stop() {
      process.removeListener('exit', onExit);
      if (server.exited) return;
      killGroup('SIGTERM');
      const grace = setTimeout(() => killGroup('SIGKILL'), 3_000);
      await child.catch(() => undefined);
      clearTimeout(grace);
      killGroup('SIGKILL');
    },
  };
  void child.then(
    () => {
      server.exited = true;
      process.removeListener('exit', onExit);
    },
    () => {
      server.exited = true;
      process.removeListener('exit', onExit);
    },
  );

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`'opencode serve' did not report listening within 30 s: ${truncate(output, 1000)}`));
    }, 30_000);
    const onData = (chunk: string) => {
      output = (output + chunk).slice(-8192);
      const match = /opencode server listening on (https?:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', onData);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      output = (output + chunk).slice(-8192);
    });
    void child.then((result) => {
      clearTimeout(timer);
      const spawnError = result.failed && result.exitCode === undefined && !result.signal ? (result.cause as NodeJS.ErrnoException) : undefined;
      if (spawnError) {
        reject(
          new CodingError(
            `cannot start the OpenCode binary '${binary}' (${spawnError.code ?? spawnError.message}): install opencode-ai or set the binary path`,
            'binary_missing',
          ),
        );
      } else {
        reject(new Error(`'opencode serve' exited (${result.exitCode ?? result.signal}) before listening: ${truncate(output, 1000)}`));
      }
    });
  }).catch(async (error) => {
    await server.stop();
    throw error;
  });
  server.url = url.replace(/\/+$/, '');
  // Keep draining its output so the pipes never fill up.
  child.stdout?.resume();
  child.stderr?.resume();
  return server;
}

// ---------------------------------------------------------------------------------------------------

function sleep(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    if (unref) timer.unref();
  });
}
