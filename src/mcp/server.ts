// `station-coding mcp`: this system as an MCP server, so any MCP client (Claude Code, Claude Desktop, OpenCode,
// the MCP SDK) can be the orchestrating agent. stdio by default; streamable HTTP on 127.0.0.1 with --http <port>.
//
// One MCP connection = one agent run: the agent-scope sessions opened through a connection are closed (success
// false, so the cleanup policy applies) when it ends: stdin closed, the client gone without goodbye (EOF, EPIPE,
// parent process gone), SIGTERM/SIGINT/SIGHUP, or an HTTP session terminated. Workflow-scope sessions live on.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { errorLine } from '../text.js';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { parseOrThrow, type CloseResult, type OpenResult } from '../contract.js';
import type { CodingConfig } from '../config.js';
import type { CodingClient } from '../client/client.js';
import type { Connected } from '../client/connect.js';
import type { Telemetry } from '../telemetry/setup.js';
import { TOOLS, progressMessage, wireInputSchema, type ToolDef } from './tools.js';
import { httpAuth, refuse, type RequestCheck } from './http-auth.js';

export const SERVER_NAME = 'station-coding';
export const SERVER_VERSION = '0.1.0';

const INSTRUCTIONS =
  'Durable coding sessions on git repositories. Typical flow: coding_open (repo_url) → coding_branch (create: true) → ' +
  'code (a task in plain words; repeat as needed) → coding_diff (to review) → coding_commit → coding_push → coding_close. Pass the session_id returned by ' +
  'coding_open to every other tool. Git is done by the server, never by the coding agent. Sessions opened with scope "agent" ' +
  '(the default) are closed when this connection ends; use scope "workflow" with a scope_id for a session that outlives it.';

export type Log = (line: string) => void;

/** The agent-scope sessions one MCP connection opened, closed when that connection ends. */
export class ConnectionSessions {
  private readonly open = new Map<string, { running: number }>();
  private readonly pending = new Set<Promise<unknown>>();
  private ending?: Promise<CloseResult[]>;
  /** end() has taken its list of sessions to close: a session opened later is closed by opened() itself. */
  private swept = false;

  constructor(
    private readonly getClient: () => Promise<CodingClient>,
    private readonly log: Log,
  ) {}

  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** The agent-scope sessions this connection still holds open. */
  ids(): string[] {
    return [...this.open.keys()];
  }

  /** Runs coding_open and remembers an agent-scope session; one opened after the connection ended is closed at once. */
  async opened(run: () => Promise<OpenResult>, args: Record<string, unknown>): Promise<OpenResult> {
    const promise = run();
    this.pending.add(promise);
    try {
      const result = await promise;
      if (args.scope !== 'workflow' && !result.attached) {
        this.open.set(result.session_id, { running: 0 });
        if (this.swept) void this.closeOne(result.session_id);
      }
      return result;
    } finally {
      this.pending.delete(promise);
    }
  }

  /** Marks a task running in `sessionId` for the duration of `run` (a running task is cancelled before closing). */
  async running<T>(sessionId: string, run: () => Promise<T>): Promise<T> {
    const entry = this.open.get(sessionId);
    if (entry) entry.running++;
    try {
      return await run();
    } finally {
      if (entry) entry.running--;
    }
  }

  closed(sessionId: string): void {
    this.open.delete(sessionId);
  }

  /** The connection is over: close every agent-scope session it opened (waiting for opens still under way). Idempotent. */
  end(reason: string): Promise<CloseResult[]> {
    this.ending ??= (async () => {
      if (this.pending.size > 0) await Promise.race([Promise.allSettled([...this.pending]), sleep(60_000)]);
      this.swept = true;
      const ids = this.ids();
      if (ids.length === 0) return [];
      this.log(`connection ended (${reason}): closing ${ids.length} agent-scope session(s): ${ids.join(', ')}`);
      const results = await Promise.all(ids.map((id) => this.closeOne(id)));
      return results.filter((r): r is CloseResult => r !== undefined);
    })();
    return this.ending;
  }

  private async closeOne(sessionId: string): Promise<CloseResult | undefined> {
    const started = Date.now();
    // Imported here, not at the top: `initialize` must be answered before Temporal's modules are loaded.
    const { explain } = await import('../client/client.js');
    try {
      const client = await this.getClient();
      const { WorkflowUpdateStage } = await import('@temporalio/client');
      const { closeUpdate } = await import('../workflows/definitions.js');
      const entry = this.open.get(sessionId);
      // Speed matters: a client may kill the server soon after asking it to stop (claude: SIGINT, SIGTERM, then
      // SIGKILL about half a second later). Once the workflow has accepted the close update, the close completes
      // even if this process dies; a running task is cancelled at the same time, so the close need not wait for it.
      const [update] = await Promise.all([
        client.handle(sessionId).startUpdate(closeUpdate, { args: [{ success: false }], waitForStage: WorkflowUpdateStage.ACCEPTED }),
        entry && entry.running > 0 ? client.cancel(sessionId).catch(() => {}) : undefined,
      ]);
      this.log(`closing ${sessionId}: accepted after ${Date.now() - started} ms`);
      const result = await update.result();
      this.open.delete(sessionId);
      this.log(`closed ${sessionId} in ${Date.now() - started} ms (success false, workspace ${result.workspace_deleted ? 'deleted' : 'kept'})`);
      return result;
    } catch (err) {
      this.open.delete(sessionId);
      this.log(`closing ${sessionId}: ${explain(err, sessionId).message.split('\n')[0]}`);
      return undefined;
    }
  }
}

export interface StationMcp {
  server: McpServer;
  sessions: ConnectionSessions;
}

/** An McpServer with the coding tools, for one connection. */
export function createStationMcpServer(getClient: () => Promise<CodingClient>, log: Log): StationMcp {
  const sessions = new ConnectionSessions(getClient, log);
  const server = new McpServer({ name: SERVER_NAME, version: SERVER_VERSION }, { instructions: INSTRUCTIONS, capabilities: { tools: {} } });
  for (const tool of TOOLS) {
    server.registerTool(
      tool.name,
      {
        title: tool.title,
        description: tool.description,
        inputSchema: wireInputSchema(tool),
        outputSchema: tool.output,
        annotations: tool.annotations,
      },
      async (args, extra): Promise<CallToolResult> => {
        try {
          const input = args as Record<string, unknown>;
          parseOrThrow(tool.input, input, tool.label);
          if (sessions.ended) throw new Error('this MCP connection is closing');
          const client = await getClient();
          const progressToken = extra._meta?.progressToken;
          let progress = 0;
          const onProgress =
            progressToken === undefined
              ? undefined
              : (event: Parameters<typeof progressMessage>[0]) => {
                  progress++;
                  extra
                    .sendNotification({ method: 'notifications/progress', params: { progressToken, progress, message: progressMessage(event) } })
                    .catch(() => {});
                };
          const result = await runTool(tool, client, input, sessions, { onProgress, signal: extra.signal, connectionEnded: () => sessions.ended });
          return { content: [{ type: 'text', text: JSON.stringify(result, null, 2) }], structuredContent: result as Record<string, unknown> };
        } catch (err) {
          return { isError: true, content: [{ type: 'text', text: errorLine(err) || 'unknown error' }] };
        }
      },
    );
  }
  return { server, sessions };
}

async function runTool(
  tool: ToolDef,
  client: CodingClient,
  input: Record<string, unknown>,
  sessions: ConnectionSessions,
  ctx: Parameters<ToolDef['run']>[2],
): Promise<unknown> {
  const sessionId = input.session_id as string;
  switch (tool.name) {
    case 'coding_open':
      return sessions.opened(() => tool.run(client, input, ctx) as Promise<OpenResult>, input);
    case 'code':
      return sessions.running(sessionId, () => tool.run(client, input, ctx));
    case 'coding_close': {
      const result = await tool.run(client, input, ctx);
      sessions.closed(sessionId);
      return result;
    }
    default:
      return tool.run(client, input, ctx);
  }
}

/** How long after the transport is up the connection to Temporal starts, leaving the handshake the CPU. */
const CONNECT_AFTER_MS = 300;

/** Waits that never keep the process alive on their own. */
const sleep = (ms: number) => delay(ms, undefined, { ref: false });

export interface ServeOptions {
  /** Serve streamable HTTP on 127.0.0.1:<port> (0: any free port) instead of stdio. */
  http?: number;
  log?: Log;
  /** Runs once before the first Temporal module is loaded (the CLI installs the Temporal runtime's logger here). */
  prepareTemporal?: () => Promise<void>;
}

/**
 * `station-coding mcp`. Answers the MCP handshake at once and connects to Temporal in the background (the
 * configured cluster, or the embedded dev server with an in-process worker), so a client's connect timeout is
 * never spent on Temporal. Resolves with the exit code when the server has shut down.
 */
export async function serveMcp(config: CodingConfig, options: ServeOptions = {}): Promise<number> {
  const log: Log = options.log ?? ((line) => process.stderr.write(`station-coding mcp: ${line}\n`));
  // Before anything starts: a server that would refuse every request (or let everyone in unasked) must not run.
  const authorized = options.http !== undefined ? httpAuth(config) : undefined;
  // stdout is the protocol channel: nothing else may write to it.
  console.log = console.info = console.debug = (...args: unknown[]) => console.error(...args);
  // Telemetry and Temporal (the worker, the native bridge) load after the handshake: importing them takes about a
  // second on a busy 2-core host, and a client such as Claude Code gives a server only a few seconds to answer.
  let telemetry: Telemetry | undefined;
  let connecting: Promise<Connected> | undefined;
  const connect = (): Promise<Connected> => {
    connecting ??= (async () => {
      await options.prepareTemporal?.();
      const { startTelemetry } = await import('../telemetry/setup.js');
      telemetry ??= startTelemetry('station-coding-mcp');
      const { connectCoding } = await import('../client/connect.js');
      const connected = await connectCoding(config, { log, tracing: telemetry.tracing });
      // Without its worker this server would answer every tool call by waiting forever: stop with the reason.
      connected.workerStopped.catch((err: Error) => {
        log(err.message);
        stop('its worker stopped');
      });
      return connected;
    })().catch((err: Error) => {
      connecting = undefined;
      throw err;
    });
    return connecting;
  };
  const getClient = async () => (await connect()).client;
  // Shortly after the transport is up (below), so that the handshake a client sends at once is answered first;
  // a tool call before then connects at once.
  const connectSoon = () => void connect().catch((err: Error) => log(`${err.message.split('\n')[0]} (will retry on the next tool call)`));

  process.on('unhandledRejection', (err) => log(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`));

  let stop!: (reason: string) => void;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, () => stop(signal));
  const shutdown = options.http !== undefined ? await serveHttp(options.http, getClient, log, authorized, config.mcp.token_env) : await serveStdio(getClient, log, stop);
  setTimeout(connectSoon, CONNECT_AFTER_MS);

  const reason = await stopped;
  await shutdown(reason);
  // A connection attempt still under way served no session: do not wait long for it.
  const connected = connecting ? await Promise.race([connecting.catch(() => undefined), sleep(2000).then(() => undefined)]) : undefined;
  await connected?.close().catch((err: Error) => log(`closing the Temporal connection: ${err.message}`));
  await telemetry?.shutdown();
  return 0;
}

async function serveStdio(getClient: () => Promise<CodingClient>, log: Log, stop: (reason: string) => void): Promise<(reason: string) => Promise<void>> {
  const { server, sessions } = createStationMcpServer(getClient, log);
  const transport = new StdioServerTransport();
  transport.onerror = (err) => log(`stdio: ${err.message}`);
  await server.connect(transport);
  // The client going away shows up as EOF on stdin, an EPIPE on stdout, or (if the pipe is held elsewhere) as
  // this process being re-parented.
  process.stdin.once('end', () => stop('stdin closed'));
  process.stdin.once('close', () => stop('stdin closed'));
  process.stdout.on('error', (err) => stop(`stdout: ${err.message}`));
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== parent) stop('client process gone');
  }, 2000);
  watch.unref();
  return async (reason) => {
    clearInterval(watch);
    await sessions.end(reason);
    await server.close().catch(() => {});
  };
}

async function serveHttp(
  port: number,
  getClient: () => Promise<CodingClient>,
  log: Log,
  authorized: RequestCheck,
  tokenEnv: string,
): Promise<(reason: string) => Promise<void>> {
  // Only --http needs the HTTP transport: stdio does not load it.
  const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
  const connections = new Map<string, { transport: StreamableHTTPServerTransport; station: StationMcp }>();
  let actualPort = port;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/mcp') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('MCP is served at /mcp\n');
      return;
    }
    if (authorized && !authorized(req)) {
      refuse(res, tokenEnv);
      req.resume();
      return;
    }
    const id = req.headers['mcp-session-id'];
    const known = typeof id === 'string' ? connections.get(id) : undefined;
    if (known) {
      await known.transport.handleRequest(req, res);
      return;
    }
    if (id !== undefined || req.method !== 'POST') {
      res.writeHead(id !== undefined ? 404 : 400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: id !== undefined ? 'unknown MCP session' : 'initialize first (POST /mcp)' }, id: null }));
      return;
    }
    // A new MCP session (the transport answers 400 unless this is an initialize request).
    const station = createStationMcpServer(getClient, log);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => void connections.set(sessionId, { transport, station }),
      enableDnsRebindingProtection: true,
      allowedHosts: [`127.0.0.1:${actualPort}`, `localhost:${actualPort}`],
    });
    transport.onclose = () => {
      const sessionId = transport.sessionId;
      if (sessionId) connections.delete(sessionId);
      void station.sessions.end('MCP session closed').then(() => station.server.close().catch(() => {}));
    };
    await station.server.connect(transport);
    await transport.handleRequest(req, res);
  };

  const http = createServer((req, res) => {
    handle(req, res).catch((err: Error) => {
      log(`http: ${err.message}`);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, '127.0.0.1', () => resolve());
  });
  actualPort = (http.address() as AddressInfo).port;
  log(`streamable HTTP on http://127.0.0.1:${actualPort}/mcp (${authorized ? `bearer token from ${tokenEnv} required` : 'no token: coding.mcp.allow_unauthenticated_loopback'})`);
  return async (reason) => {
    http.close();
    await Promise.all(
      [...connections.values()].map(async ({ transport, station }) => {
        await station.sessions.end(reason);
        await transport.close().catch(() => {});
      }),
    );
    http.closeAllConnections();
  };
}
