// The `opencode` runner: an OpenCode server over HTTP, through the official client (@opencode-ai/sdk/v2,
// pinned to the binary's version). One server serves many coding sessions at once, each in its own
// workspace: every call carries `directory` = the task's workspace.
//
// A task: create the OpenCode session (first task) or reuse task.backend_session_id; send the prompt with
// prompt_async under a message id we choose ourselves, exactly once (session.ts); follow the server's event
// stream (event-hub.ts) for that session (turn-watcher.ts: tool calls appear as progress while they run)
// until it goes idle; then build the result from the real messages of this turn (outcome.ts).
//
// Without `url`, the runner starts its own `opencode serve` on 127.0.0.1 (lazily, with the isolated
// environment of opencode-shared/env.ts and a random password; server-launcher.ts) and stops it in shutdown().
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createOpencodeClient, type OpencodeClient } from '@opencode-ai/sdk/v2';
import type { AgentOutcome, AgentRunner, AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import { truncate } from '../../text.js';
import { effectiveTimeoutMs } from '../task-limits.js';
import { resolveOpenCodeBinary } from '../opencode-shared/binary.js';
import { parseModel, type OpenCodeModelSettings } from '../opencode-shared/config.js';
import { prepareOpenCodeEnv } from '../opencode-shared/env.js';
import { isAbortError, isProviderError, openCodeErrorMessage, providerError } from '../opencode-shared/errors.js';
import { EventHub } from './event-hub.js';
import { CALL_TIMEOUT_MS, call, errorText, unavailable } from './http.js';
import { newMessageId } from './message-id.js';
import { buildOutcome, emptyOutcome, sameError } from './outcome.js';
import { startServer, type ManagedServer } from './server-launcher.js';
import { OpenCodeSession } from './session.js';
import { TurnWatcher } from './turn-watcher.js';

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
  /** Directories holding the workspaces a managed server may be sent to: writable inside its sandbox. */
  workspace_roots?: string[];
}

/** How long the first event-stream connection may take before the server counts as unreachable. */
const CONNECT_TIMEOUT_MS = 15_000;
/** How often a waiting task checks the session status itself, in case an event was lost. */
const POLL_INTERVAL_MS = 5_000;
/** After abort: how long to wait for the session to go idle before returning anyway. */
const ABORT_SETTLE_MS = 5_000;
/** A running task gives up on a server that has not answered for this long. */
const SERVER_LOST_MS = 60_000;

interface ServerHandle {
  url: string;
  client: OpencodeClient;
  hub: EventHub;
}

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
    const directory = task.workspace_path;
    const roots = this.settings.workspace_roots ?? [];
    if (!this.settings.url && this.settings.sandbox && !this.settings.sandbox.reaches(directory, roots)) {
      throw new CodingError(
        `the workspace ${directory} is outside what the sandboxed OpenCode server can see (${roots.join(', ')}): ` +
          'use a workspace under coding.workspace_base_path or coding.allowed_workspace_roots',
        'invalid_input',
      );
    }
    const server = await this.server();
    const { client, url } = server;

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
    task.onBackendSession?.(sessionId);
    const session = new OpenCodeSession(client, url, directory, sessionId);
    if (task.backend_session_id) await session.stopLeftoverTurn();

    const messageId = newMessageId();
    const turn = new TurnWatcher(task, messageId);
    const unsubscribe = server.hub.subscribe(session.id, {
      onEvent: (event) => turn.onEvent(event, (requestID) => session.rejectPermission(requestID)),
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
      await session.send(messageId, task.prompt, model);

      // Wait for the end of the turn: the session goes idle (event), or the poll finds it idle.
      let failingSince: number | undefined;
      while (!turn.finished && !turn.stopped) {
        await turn.waitForChange(POLL_INTERVAL_MS);
        if (turn.finished || turn.stopped) break;
        // Woken by a hint (idle without our activity seen, an error, a reconnect) or the poll interval:
        // look at the session ourselves, in case an event was lost. A failed look is not the end of the
        // task (the prompt may still be running there); a server gone for long is.
        try {
          if (await session.turnIsOver(messageId)) turn.finish();
          failingSince = undefined;
        } catch (error) {
          failingSince ??= Date.now();
          if (Date.now() - failingSince > SERVER_LOST_MS) throw error;
        }
      }

      if (turn.stopped && !turn.finished) {
        // Cancel or timeout: abort the run on the server, give it a moment to settle, report what happened.
        await session.abort();
        await turn.waitIdle(ABORT_SETTLE_MS);
      }

      const messages = await session.turnMessages(messageId, turn.stopped);
      const { result, errors: messageErrors } = buildOutcome(messages, messageId, started, session.id);
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
    await Promise.race([Promise.all(running.map((a) => a.done)), sleep(ABORT_SETTLE_MS + 5_000, undefined, { ref: false })]);
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
    const sandbox = this.settings.sandbox;
    if (!sandbox?.walled) return startServer(binary, env, dir);
    // The first root is the workspace base path (the worker creates it anyway); other roots bound where they exist.
    const [base, ...others] = this.settings.workspace_roots ?? [];
    if (base) await mkdir(base, { recursive: true });
    const roots = [...(base ? [base] : []), ...others.filter((root) => existsSync(root))];
    return startServer(binary, env, dir, { sandbox, room: { writable: [dir, ...roots] } });
  }
}
