// A fake OpenAI Responses API on 127.0.0.1: the only fake in the Codex tests. The real `codex` binary (0.169.0,
// a provider with `wire_api = "responses"`) talks to it as it would to OpenAI: `POST /v1/responses` with
// `stream: true`, answered with server-sent events — response.created, response.output_item.added/.done
// (a `message` with output_text, or a `function_call`), response.output_text.delta, and response.completed
// with usage. Tool results come back as `function_call_output` input items on the next request.
//
// A script decides each answer. "Main" requests (the agent loop) carry `tools`; anything else (a title, a
// summary, a model list) gets a short text or an empty answer. Every request is recorded.
import http from 'node:http';
import path from 'node:path';
import { openEventStream, scriptedTurn, sendJson, serveFakeModel, type FakeModelServer, type FakeScript, type FakeTurn } from './fake-model.js';

export type { FakeTurn, RecordedRequest, FakeScript } from './fake-model.js';
export type FakeResponses = FakeModelServer;

/** Usage reported on every response: input (cached included, as OpenAI counts it), cached, output, reasoning. */
export const FAKE_RESPONSES_USAGE = { input_tokens: 400, cached_tokens: 100, output_tokens: 50, reasoning_tokens: 10 };

/** Codex's shell tool: `exec_command {cmd, workdir?}`. */
export const CODEX_SHELL_TOOL = 'exec_command';

/** The workspace: Codex puts `<cwd>/path</cwd>` in an environment-context input item. */
export function codexCwd(body: any): string | undefined {
  const match = /<cwd>\s*([^<\s][^<]*?)\s*<\/cwd>/.exec(JSON.stringify(body?.input ?? []));
  return match ? JSON.parse(`"${match[1]}"`) : undefined;
}

function isPromptItem(item: any): boolean {
  if (item?.role !== 'user' && !(item?.type === 'message' && item?.role === 'user')) return false;
  const text = JSON.stringify(item.content ?? '');
  // Codex sends its own context (AGENTS.md, environment) as user messages too; those are not the task's prompt.
  return !/<environment_context>|<user_instructions>|# AGENTS\.md|<permissions instructions>/.test(text);
}

/** Tool results since this task's prompt (the last real user message), so a resumed thread starts the script over. */
export function countCodexToolResults(body: any): number {
  const input: any[] = Array.isArray(body?.input) ? body.input : [];
  const last = input.findLastIndex(isPromptItem);
  return input.slice(last + 1).filter((item) => item?.type === 'function_call_output' || item?.type === 'custom_tool_call_output').length;
}

/** A shell command that writes `content` to `file` (single-quoted, so nothing in it is expanded). */
export function writeCommand(file: string, content: string): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `printf %s ${quote(content)} > ${quote(file)}`;
}

/**
 * The standard three-turn task in Codex's tools: write `file` with a shell command, run `command`, then finish
 * with text. Both tool calls are `exec_command`, the one shell tool Codex offers a custom provider's model.
 */
export function defaultScript(opts: { file?: string; content?: string; command?: string; finalText?: string } = {}): FakeScript {
  const file = opts.file ?? 'hello.txt';
  const content = opts.content ?? 'hello from the fake model\n';
  const command = opts.command ?? `cat ${file}`;
  const finalText = opts.finalText ?? `Wrote ${file} and ran \`${command}\`.`;
  return ({ cwd, turnIndex }) => {
    if (turnIndex === 0) {
      const target = path.isAbsolute(file) || !cwd ? file : path.join(cwd, file);
      return { text: `I'll create ${file}.`, tool: { name: CODEX_SHELL_TOOL, input: { cmd: writeCommand(target, content), ...(cwd ? { workdir: cwd } : {}) } } };
    }
    // exec_command returns after yield_time_ms (default 10 s, at most 30 s) with the command still running in the
    // background: the longest wait keeps a slow command (the timeout and cancel tests' `sleep`) in the tool call.
    if (turnIndex === 1) return { tool: { name: CODEX_SHELL_TOOL, input: { cmd: command, yield_time_ms: 30_000, ...(cwd ? { workdir: cwd } : {}) } } };
    return { text: finalText };
  };
}

export function startFakeResponses(script: FakeScript = defaultScript()): Promise<FakeResponses> {
  let counter = 0;
  const isResponses = (call: { method: string; route: string }) => call.method === 'POST' && call.route.endsWith('/responses');
  return serveFakeModel(
    {
      basePath: '/v1',
      isMain: (call) => isResponses(call) && Array.isArray(call.body?.tools) && call.body.tools.length > 0,
      async respond(call, res) {
        if (!isResponses(call)) {
          // A model list or anything else: an empty, valid answer, so the CLI does not wait or retry.
          if (call.method === 'GET' && call.route.endsWith('/models')) return sendJson(res, 200, { object: 'list', data: [], models: [] });
          return sendJson(res, 404, { error: { message: `fake-responses: no route ${call.method} ${call.url}`, type: 'not_found' } });
        }
        const { body } = call;
        const turn = call.isMain ? shellInput(scriptedTurn(call, { cwd: codexCwd(body), turnIndex: countCodexToolResults(body) }, 'fake-responses')) : { text: 'Fake title' };
        const id = `resp_fake_${++counter}`;
        if (turn.stallMs && turn.stallMs > 0) {
          if (!turn.status) openEventStream(res);
          await call.wait(turn.stallMs);
        }
        if (res.destroyed || res.writableEnded) return;
        if (turn.status && turn.status >= 400) {
          if (res.headersSent) {
            // Headers already went out (stalled): fail inside the stream, as OpenAI does.
            sse(res, 'response.failed', { response: { id, status: 'failed', error: { code: 'server_error', message: turn.errorMessage ?? `fake error ${turn.status}` } } });
            res.end();
            return;
          }
          return sendJson(res, turn.status, {
            error: {
              message: turn.errorMessage ?? `fake-responses error ${turn.status}`,
              type: turn.status === 401 ? 'invalid_request_error' : 'server_error',
              code: turn.status === 401 ? 'invalid_api_key' : null,
              param: null,
            },
          });
        }
        openEventStream(res);
        streamTurn(res, id, typeof body?.model === 'string' ? body.model : 'fake', turn);
        res.end();
      },
    },
    script,
  );
}

/** Scripts shared with other backends give the shell tool `{command}`; Codex's exec_command takes `{cmd}`. */
function shellInput(turn: FakeTurn): FakeTurn {
  const input = turn.tool?.input;
  if (turn.tool?.name !== CODEX_SHELL_TOOL || !input || input.cmd !== undefined || typeof input.command !== 'string') return turn;
  const { command, description: _description, ...rest } = input;
  return { ...turn, tool: { name: CODEX_SHELL_TOOL, input: { yield_time_ms: 30_000, ...rest, cmd: command } } };
}

function sse(res: http.ServerResponse, type: string, data: Record<string, unknown>): void {
  res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
}

function streamTurn(res: http.ServerResponse, id: string, model: string, turn: FakeTurn): void {
  const created_at = Math.floor(Date.now() / 1000);
  const response = { id, object: 'response', created_at, model, status: 'in_progress', output: [] as unknown[] };
  let seq = 0;
  const send = (type: string, data: Record<string, unknown>) => sse(res, type, { sequence_number: seq++, ...data });
  send('response.created', { response });
  send('response.in_progress', { response });
  const output: unknown[] = [];
  let index = 0;
  if (turn.text !== undefined || !turn.tool) {
    const text = turn.text ?? '';
    const itemId = `msg_${id}_${index}`;
    send('response.output_item.added', { output_index: index, item: { id: itemId, type: 'message', role: 'assistant', status: 'in_progress', content: [] } });
    send('response.content_part.added', { item_id: itemId, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    const half = Math.ceil(text.length / 2);
    for (const piece of [text.slice(0, half), text.slice(half)]) {
      if (piece) send('response.output_text.delta', { item_id: itemId, output_index: index, content_index: 0, delta: piece });
    }
    send('response.output_text.done', { item_id: itemId, output_index: index, content_index: 0, text });
    const part = { type: 'output_text', text, annotations: [] };
    send('response.content_part.done', { item_id: itemId, output_index: index, content_index: 0, part });
    const item = { id: itemId, type: 'message', role: 'assistant', status: 'completed', content: [part] };
    send('response.output_item.done', { output_index: index, item });
    output.push(item);
    index++;
  }
  if (turn.tool) {
    const itemId = `fc_${id}_${index}`;
    const callId = `call_${id.replace(/\W/g, '')}_${index}`;
    const args = JSON.stringify(turn.tool.input);
    send('response.output_item.added', {
      output_index: index,
      item: { id: itemId, type: 'function_call', status: 'in_progress', call_id: callId, name: turn.tool.name, arguments: '' },
    });
    const half = Math.ceil(args.length / 2);
    for (const piece of [args.slice(0, half), args.slice(half)]) {
      send('response.function_call_arguments.delta', { item_id: itemId, output_index: index, delta: piece });
    }
    send('response.function_call_arguments.done', { item_id: itemId, output_index: index, arguments: args });
    const item = { id: itemId, type: 'function_call', status: 'completed', call_id: callId, name: turn.tool.name, arguments: args };
    send('response.output_item.done', { output_index: index, item });
    output.push(item);
  }
  const u = FAKE_RESPONSES_USAGE;
  send('response.completed', {
    response: {
      ...response,
      status: 'completed',
      output,
      usage: {
        input_tokens: u.input_tokens,
        input_tokens_details: { cached_tokens: u.cached_tokens },
        output_tokens: u.output_tokens,
        output_tokens_details: { reasoning_tokens: u.reasoning_tokens },
        total_tokens: u.input_tokens + u.output_tokens,
      },
    },
  });
}
