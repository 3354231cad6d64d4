// A local stand-in for the Gemini API (generativelanguage.googleapis.com), so tests drive the real `gemini` CLI
// with only the model faked. The CLI (0.61.0, GOOGLE_GEMINI_BASE_URL pointing here, any GEMINI_API_KEY) calls
// `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` and reads server-sent events, each a chunk
// `{candidates[{content{role:"model", parts[{text}|{functionCall{name, args}}]}, finishReason}], usageMetadata}`.
// Tool results come back as `functionResponse` parts of a user content. A script decides each turn of the agent
// conversation (requests that offer tools); anything else (non-streaming helper calls, countTokens) gets a short
// answer. Every request is recorded.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import type { FakeModelServer, FakeScript, FakeTurn, RecordedRequest } from './fake-model.js';

export type { FakeTurn, RecordedRequest, FakeScript } from './fake-model.js';
export type FakeGemini = FakeModelServer;

/** The model the tests configure (priced in the test config's coding.pricing). */
export const FAKE_GEMINI_MODEL = 'gemini-2.5-pro';
/** Usage of every scripted response: the CLI sums it into its result stats (input includes cached). */
export const FAKE_GEMINI_USAGE = { promptTokenCount: 120, candidatesTokenCount: 30, cachedContentTokenCount: 20 };

export async function startFakeGemini(script: FakeScript = defaultScript()): Promise<FakeGemini> {
  let current = script;
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const url = req.url ?? '/';
      const route = url.split('?')[0]!;
      const streaming = req.method === 'POST' && route.endsWith(':streamGenerateContent');
      const isMain = streaming && Array.isArray(body?.tools) && body.tools.length > 0;
      requests.push({ path: url, headers: { ...req.headers }, body, isMain });

      if (req.method === 'POST' && route.endsWith(':countTokens')) {
        sendJson(res, 200, { totalTokens: Math.max(1, Math.round(raw.length / 4)) });
        return;
      }
      if (req.method !== 'POST' || !(streaming || route.endsWith(':generateContent'))) {
        sendJson(res, 404, { error: { code: 404, message: `fake-gemini: no route ${req.method} ${url}`, status: 'NOT_FOUND' } });
        return;
      }
      let turn: FakeTurn;
      if (isMain) {
        try {
          turn = current({ request: body, cwd: workspaceOf(body), turnIndex: countToolResults(body) });
        } catch (error) {
          turn = { status: 500, errorMessage: `fake-gemini script failed: ${String(error)}` };
        }
      } else {
        // Helper calls (e.g. the next-speaker check asks for JSON): a short answer that ends the turn.
        turn = { text: body?.generationConfig?.responseMimeType === 'application/json' ? '{"next_speaker":"user","reasoning":"done"}' : 'ok' };
      }

      const answer = () => {
        if (res.destroyed) return;
        if (turn.status && turn.status >= 400) {
          if (res.headersSent) {
            res.end();
            return;
          }
          sendJson(res, turn.status, { error: { code: turn.status, message: turn.errorMessage ?? `fake-gemini error ${turn.status}`, status: statusName(turn.status) } });
          return;
        }
        if (!streaming) {
          sendJson(res, 200, responseOf(turn.text ? [{ text: turn.text }] : [], 'STOP'));
          return;
        }
        if (!res.headersSent) res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        for (const chunk of streamChunks(turn)) res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
        res.end();
      };

      if (turn.stallMs && turn.stallMs > 0) {
        // A live stream that says nothing, as a hung model does.
        if (!turn.status && streaming) {
          res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
          res.flushHeaders();
        }
        const timer = setTimeout(() => {
          timers.delete(timer);
          answer();
        }, turn.stallMs);
        timers.add(timer);
      } else {
        answer();
      }
    });
  });
  server.keepAliveTimeout = 1000;
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
    url: `http://127.0.0.1:${port}`,
    requests,
    mainRequests: () => requests.filter((r) => r.isMain),
    setScript(s: FakeScript) {
      current = s;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer);
        timers.clear();
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The usual three-turn task: write a file, run a command, then finish with text (the Gemini CLI's tool names).
 * `file` is relative to the workspace (named in the CLI's first user content).
 */
export function defaultScript(opts: { file?: string; content?: string; command?: string; finalText?: string } = {}): FakeScript {
  const file = opts.file ?? 'hello.txt';
  const content = opts.content ?? 'hello from the fake model\n';
  const command = opts.command ?? `cat ${file}`;
  const finalText = opts.finalText ?? `Wrote ${file} and ran \`${command}\`.`;
  return ({ cwd, turnIndex }) => {
    if (turnIndex === 0) {
      if (!cwd && !path.isAbsolute(file)) throw new Error('no workspace directory found in the request');
      const filePath = path.isAbsolute(file) ? file : path.join(cwd!, file);
      return { text: `I'll create ${file}.`, tool: { name: 'write_file', input: { file_path: filePath, content } } };
    }
    if (turnIndex === 1) return { tool: { name: 'run_shell_command', input: { command, description: 'Show the file' } } };
    return { text: finalText };
  };
}

/** The CLI names its workspace in the session context of the first user content ("Workspace Directories:\n  - /path"). */
export function workspaceOf(body: any): string | undefined {
  for (const text of userTexts(body)) {
    const match = /Workspace Directories:\*{0,2}\s*\n\s*-\s*(\S[^\n]*)/.exec(text);
    if (match) return match[1]!.trim();
  }
  return undefined;
}

/** The text parts of the user contents, in order (the prompts and the session context). */
export function userTexts(body: any): string[] {
  const contents: any[] = Array.isArray(body?.contents) ? body.contents : [];
  return contents.filter((c) => c?.role === 'user').flatMap((c) => (Array.isArray(c.parts) ? c.parts : []).filter((p: any) => typeof p?.text === 'string').map((p: any) => p.text as string));
}

/** Tool results since the current task's prompt (the last user content with text), so a resumed conversation starts its script over. */
export function countToolResults(body: any): number {
  const contents: any[] = Array.isArray(body?.contents) ? body.contents : [];
  const isPrompt = (c: any) => c?.role === 'user' && Array.isArray(c.parts) && c.parts.some((p: any) => typeof p?.text === 'string');
  let count = 0;
  for (const content of contents.slice(contents.findLastIndex(isPrompt) + 1)) {
    for (const part of Array.isArray(content?.parts) ? content.parts : []) if (part?.functionResponse) count++;
  }
  return count;
}

/** The tool results of a request, as text (what the agent's tools answered). */
export function functionResponses(body: any): string {
  const contents: any[] = Array.isArray(body?.contents) ? body.contents : [];
  return JSON.stringify(contents.flatMap((c) => (Array.isArray(c?.parts) ? c.parts.filter((p: any) => p?.functionResponse) : [])));
}

function streamChunks(turn: FakeTurn): unknown[] {
  const chunks: unknown[] = [];
  const pieces = turn.text ? (turn.text.match(/.{1,24}/gs) ?? [turn.text]) : [];
  const lastText = turn.tool ? -1 : pieces.length - 1;
  pieces.forEach((piece, i) => chunks.push(responseOf([{ text: piece }], i === lastText ? 'STOP' : undefined, i === lastText)));
  if (turn.tool) chunks.push(responseOf([{ functionCall: { name: turn.tool.name, args: turn.tool.input } }], 'STOP', true));
  if (chunks.length === 0) chunks.push(responseOf([{ text: '' }], 'STOP', true));
  return chunks;
}

function responseOf(parts: unknown[], finishReason: string | undefined, withUsage = true): unknown {
  const { promptTokenCount, candidatesTokenCount, cachedContentTokenCount } = FAKE_GEMINI_USAGE;
  return {
    candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}), index: 0 }],
    ...(withUsage ? { usageMetadata: { promptTokenCount, candidatesTokenCount, cachedContentTokenCount, totalTokenCount: promptTokenCount + candidatesTokenCount } } : {}),
    modelVersion: FAKE_GEMINI_MODEL,
  };
}

function statusName(code: number): string {
  return ({ 400: 'INVALID_ARGUMENT', 401: 'UNAUTHENTICATED', 403: 'PERMISSION_DENIED', 404: 'NOT_FOUND', 429: 'RESOURCE_EXHAUSTED', 503: 'UNAVAILABLE' } as Record<number, string>)[code] ?? 'INTERNAL';
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
