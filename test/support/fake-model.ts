// What the fake model servers (fake-anthropic.ts, fake-openai.ts, fake-responses.ts, fake-gemini.ts) have in
// common: a script decides each turn of the agent conversation, every request is recorded, a stalled answer can
// be held open, and close() ends everything at once. Each fake adds only its provider's wire format.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeTurn {
  /** Assistant text (sent before the tool call when both are given). */
  text?: string;
  /** A tool call the model makes this turn. */
  tool?: { name: string; input: Record<string, unknown> };
  /** Hold the response open this long (for cancel / timeout tests); close() still ends it. */
  stallMs?: number;
  /** Answer with this HTTP status and the provider's error body instead of a message (e.g. 401). */
  status?: number;
  errorMessage?: string;
}

export interface RecordedRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: any;
  /** True for the agent conversation itself (requests that offer tools). */
  isMain: boolean;
}

export type FakeScript = (ctx: { request: any; cwd?: string; turnIndex: number }) => FakeTurn;

export interface FakeModelServer {
  /** Base URL for the provider setting (ANTHROPIC_BASE_URL, or the OpenAI-compatible baseURL with /v1). */
  url: string;
  requests: RecordedRequest[];
  mainRequests(): RecordedRequest[];
  setScript(script: FakeScript): void;
  close(): Promise<void>;
}

/** One request to a fake, read whole. */
export interface FakeCall {
  method: string;
  url: string;
  /** The URL without its query. */
  route: string;
  /** The body as sent, and parsed as JSON when it is JSON. */
  raw: string;
  body: any;
  /** Whether the fake counted it as the agent conversation itself (recorded as such). */
  isMain: boolean;
  /** The script now in force. */
  script: FakeScript;
  /** Resolves after `ms`, or as soon as the response is closed or the fake is: a stalled model. */
  wait(ms: number): Promise<void>;
}

export interface FakeProvider {
  /** Path the provider setting points at, after the host (e.g. '/v1'). */
  basePath: string;
  /** Whether a request is the agent conversation (it offers tools). */
  isMain(call: Omit<FakeCall, 'isMain' | 'script' | 'wait'>): boolean;
  respond(call: FakeCall, res: http.ServerResponse): void | Promise<void>;
}

/** A fake model server on 127.0.0.1 for `provider`'s wire format. */
export async function serveFakeModel(provider: FakeProvider, script: FakeScript): Promise<FakeModelServer> {
  let current = script;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const waits = new Set<() => void>();
  const wait = (res: http.ServerResponse, ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waits.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waits.add(done);
      res.once('close', done);
    });

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const url = req.url ?? '/';
      const seen = { method: req.method ?? 'GET', url, route: url.split('?')[0]!, raw, body };
      const isMain = provider.isMain(seen);
      requests.push({ path: url, headers: { ...req.headers }, body, isMain });
      void Promise.resolve(provider.respond({ ...seen, isMain, script: current, wait: (ms) => wait(res, ms) }, res)).catch((error: Error) => {
        if (!res.headersSent) sendJson(res, 500, { error: { message: `fake model failed: ${error.message}` } });
        else res.end();
      });
    });
  });
  // Idle connections stay open well past an agent's pause between requests: a server closing one as the agent
  // sends on it is an ECONNRESET the agent reports as an unreachable model (seen with 1 s under load). Sockets are
  // destroyed on close() anyway.
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}${provider.basePath}`,
    requests,
    mainRequests: () => requests.filter((r) => r.isMain),
    setScript(next: FakeScript) {
      current = next;
    },
    close: async () => {
      for (const done of [...waits]) done();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Stalled responses and keep-alive connections would otherwise keep close() waiting.
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** The turn the script gives a main request; a script that throws is a 500 from the model. */
export function scriptedTurn(call: FakeCall, ctx: Omit<Parameters<FakeScript>[0], 'request'>, name: string): FakeTurn {
  try {
    return call.script({ request: call.body, ...ctx });
  } catch (error) {
    return { status: 500, errorMessage: `${name} script failed: ${String(error)}` };
  }
}

/** Open a server-sent event stream (a stalled model shows the client a live stream that says nothing). */
export function openEventStream(res: http.ServerResponse, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
  res.flushHeaders();
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
