// A local stand-in for the Gemini API (generativelanguage.googleapis.com), so tests drive the real `gemini` CLI
// with only the model faked. The CLI (0.61.0, GOOGLE_GEMINI_BASE_URL pointing here, any GEMINI_API_KEY) calls
// `POST /v1beta/models/<model>:streamGenerateContent?alt=sse` and reads server-sent events, each a chunk
// `{candidates[{content{role:"model", parts[{text}|{functionCall{name, args}}]}, finishReason}], usageMetadata}`.
// Tool results come back as `functionResponse` parts of a user content. A script decides each turn of the agent
// conversation (requests that offer tools); anything else (non-streaming helper calls, countTokens) gets a short
// answer. Every request is recorded.
import path from 'node:path';
import { openEventStream, scriptedTurn, sendJson, serveFakeModel, type FakeModelServer, type FakeScript, type FakeTurn } from './fake-model.js';

export type { FakeTurn, RecordedRequest, FakeScript } from './fake-model.js';
export type FakeGemini = FakeModelServer;

/** The model the tests configure (priced in the test config's coding.pricing). */
export const FAKE_GEMINI_MODEL = 'gemini-2.5-pro';
/** Usage of every scripted response: the CLI sums it into its result stats (input includes cached). */
export const FAKE_GEMINI_USAGE = { promptTokenCount: 120, candidatesTokenCount: 30, cachedContentTokenCount: 20 };

export function startFakeGemini(script: FakeScript = defaultScript()): Promise<FakeGemini> {
  const isStreaming = (call: { method: string; route: string }) => call.method === 'POST' && call.route.endsWith(':streamGenerateContent');
  return serveFakeModel(
    {
      basePath: '',
      isMain: (call) => isStreaming(call) && Array.isArray(call.body?.tools) && call.body.tools.length > 0,
      async respond(call, res) {
        const streaming = isStreaming(call);
        if (call.method === 'POST' && call.route.endsWith(':countTokens')) {
          return sendJson(res, 200, { totalTokens: Math.max(1, Math.round(call.raw.length / 4)) });
        }
        if (call.method !== 'POST' || !(streaming || call.route.endsWith(':generateContent'))) {
          return sendJson(res, 404, { error: { code: 404, message: `fake-gemini: no route ${call.method} ${call.url}`, status: 'NOT_FOUND' } });
        }
        const { body } = call;
        const turn: FakeTurn = call.isMain
          ? scriptedTurn(call, { cwd: workspaceOf(body), turnIndex: countToolResults(body) }, 'fake-gemini')
          : // Helper calls (e.g. the next-speaker check asks for JSON): a short answer that ends the turn.
            { text: body?.generationConfig?.responseMimeType === 'application/json' ? '{"next_speaker":"user","reasoning":"done"}' : 'ok' };
        if (turn.stallMs && turn.stallMs > 0) {
          if (!turn.status && streaming) openEventStream(res);
          await call.wait(turn.stallMs);
        }
        if (res.destroyed) return;
        if (turn.status && turn.status >= 400) {
          if (res.headersSent) return void res.end();
          return sendJson(res, turn.status, { error: { code: turn.status, message: turn.errorMessage ?? `fake-gemini error ${turn.status}`, status: statusName(turn.status) } });
        }
        if (!streaming) return sendJson(res, 200, responseOf(turn.text ? [{ text: turn.text }] : [], 'STOP'));
        openEventStream(res);
        for (const chunk of streamChunks(turn)) res.write(`data: ${JSON.stringify(chunk)}\r\n\r\n`);
        res.end();
      },
    },
    script,
  );
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
