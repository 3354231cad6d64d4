// A local stand-in for the Anthropic Messages API, so tests can drive the real `claude` CLI with only the
// language model faked. It speaks what Claude Code 2.1.197 uses: `HEAD /` (a reachability probe before the
// first request) and `POST /v1/messages?beta=true` with `stream: true`, answered as server-sent events.
// A scripted "model" decides each turn of the agent conversation; everything else gets a short text reply.
import http from 'node:http';
import path from 'node:path';
import { scriptedTurn, sendJson, serveFakeModel, type FakeModelServer, type FakeScript, type FakeTurn } from './fake-model.js';

export type { FakeTurn, RecordedRequest, FakeScript } from './fake-model.js';
export type FakeAnthropic = FakeModelServer;

// A model the CLI has a price for, so it computes a non-zero total_cost_usd.
const DEFAULT_MODEL = 'claude-sonnet-4-5';

export function startFakeAnthropic(script: FakeScript = defaultScript()): Promise<FakeAnthropic> {
  let messageCounter = 0;
  const isMessages = (call: { method: string; route: string }) => call.method === 'POST' && call.route === '/v1/messages';
  return serveFakeModel(
    {
      basePath: '',
      isMain: (call) => isMessages(call) && Array.isArray(call.body?.tools) && call.body.tools.length > 0,
      async respond(call, res) {
        const { body } = call;
        if (isMessages(call)) {
          const id = `msg_fake_${++messageCounter}`;
          const wait = call.wait;
          // Incidental calls: a short text reply. 2.1.197 sends one, the session title, and only without
          // CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC; it asks for JSON ({"title": ...}) via output_config.
          if (!call.isMain) return streamTurn(res, { text: incidentalReply(body) }, body, id, wait);
          const turn = scriptedTurn(call, { cwd: workingDirectoryOf(body), turnIndex: countToolResults(body) }, 'fake');
          if (turn.status !== undefined) return sendError(res, turn.status, turn.errorMessage ?? 'fake API error');
          return streamTurn(res, turn, body, id, wait);
        }
        if (call.method === 'POST' && call.route === '/v1/messages/count_tokens') {
          return sendJson(res, 200, { input_tokens: estimateTokens(call.raw) });
        }
        // HEAD / (reachability probe) and anything else: an empty success, so nothing waits or errors.
        if (call.method === 'HEAD') {
          res.writeHead(200);
          res.end();
        } else {
          sendJson(res, 200, {});
        }
      },
    },
    script,
  );
}

/**
 * The usual three-turn task: write a file, run a command, then finish with text.
 * `file` is relative to the workspace (the CLI's working directory, read from the request).
 */
export function defaultScript(
  opts: { file?: string; content?: string; command?: string; finalText?: string } = {},
): FakeScript {
  const file = opts.file ?? 'hello.txt';
  const content = opts.content ?? 'hello from the fake model\n';
  const command = opts.command ?? `cat ${file}`;
  const finalText = opts.finalText ?? `Wrote ${file} and ran \`${command}\`.`;
  return ({ cwd, turnIndex }) => {
    if (turnIndex === 0) {
      if (!cwd && !path.isAbsolute(file)) throw new Error('no working directory found in the request');
      const filePath = path.isAbsolute(file) ? file : path.join(cwd!, file);
      return { text: `I'll create ${file}.`, tool: { name: 'Write', input: { file_path: filePath, content } } };
    }
    if (turnIndex === 1) return { tool: { name: 'Bash', input: { command, description: 'Show the file' } } };
    return { text: finalText };
  };
}

/** The CLI's system prompt names its working directory ("Primary working directory: /path"). */
export function workingDirectoryOf(body: any): string | undefined {
  const texts: string[] = [];
  const system = body?.system;
  if (typeof system === 'string') texts.push(system);
  else if (Array.isArray(system)) for (const block of system) if (typeof block?.text === 'string') texts.push(block.text);
  for (const text of texts) {
    const match = /(?:Primary working directory|Working directory):\s*(\S[^\n]*)/.exec(text);
    if (match) return match[1]!.trim();
  }
  return undefined;
}

/** How many tool results the conversation holds so far: the index of the turn the model is asked for. */
/** Tool results since the current task's prompt (the last user message with text), so a resumed session starts its script over. */
export function countToolResults(body: any): number {
  const messages: any[] = body?.messages ?? [];
  const isPrompt = (m: any) =>
    m?.role === 'user' && (typeof m.content === 'string' || (Array.isArray(m.content) && !m.content.some((b: any) => b?.type === 'tool_result')));
  let count = 0;
  for (const message of messages.slice(messages.findLastIndex(isPrompt) + 1)) {
    if (!Array.isArray(message?.content)) continue;
    for (const block of message.content) if (block?.type === 'tool_result') count++;
  }
  return count;
}

async function streamTurn(
  res: http.ServerResponse,
  turn: FakeTurn,
  request: any,
  id: string,
  wait: (ms: number) => Promise<void>,
): Promise<void> {
  const inputTokens = Math.max(10, Math.round(estimateTokens(JSON.stringify(request?.messages ?? [])) / 10));
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    'request-id': `req_${id}`,
  });
  const send = (type: string, data: Record<string, unknown>) =>
    res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);

  send('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: typeof request?.model === 'string' ? request.model : DEFAULT_MODEL,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: {
        input_tokens: inputTokens,
        output_tokens: 1,
        cache_creation_input_tokens: 1200,
        cache_read_input_tokens: 3400,
      },
    },
  });
  if (turn.stallMs) {
    await wait(turn.stallMs);
    if (res.destroyed || res.writableEnded) return;
  }

  let index = 0;
  let outputTokens = 0;
  if (turn.text !== undefined || !turn.tool) {
    const text = turn.text ?? '';
    send('content_block_start', { index, content_block: { type: 'text', text: '' } });
    // Two deltas, as a real stream would split the text.
    const half = Math.ceil(text.length / 2);
    for (const piece of [text.slice(0, half), text.slice(half)]) {
      if (piece) send('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    }
    send('content_block_stop', { index });
    outputTokens += Math.max(1, Math.round(text.length / 4));
    index++;
  }
  if (turn.tool) {
    const toolId = `toolu_fake_${id.replace(/\W/g, '')}_${index}`;
    send('content_block_start', { index, content_block: { type: 'tool_use', id: toolId, name: turn.tool.name, input: {} } });
    const json = JSON.stringify(turn.tool.input);
    const cut = Math.ceil(json.length / 2);
    send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, cut) } });
    send('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(cut) } });
    send('content_block_stop', { index });
    outputTokens += Math.max(1, Math.round(json.length / 4));
  }
  send('message_delta', {
    delta: { stop_reason: turn.tool ? 'tool_use' : 'end_turn', stop_sequence: null },
    usage: { output_tokens: outputTokens },
  });
  send('message_stop', {});
  res.end();
}

/** Text for a non-agent request: JSON matching its output schema when it asks for one. */
function incidentalReply(body: any): string {
  const schema = body?.output_config?.format?.type === 'json_schema' ? body.output_config.format.schema : undefined;
  if (!schema || typeof schema !== 'object') return 'Fake reply.';
  const value: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries<any>(schema.properties ?? {})) {
    value[key] = prop?.type === 'boolean' ? false : prop?.type === 'number' || prop?.type === 'integer' ? 0 : 'Fake title';
  }
  return JSON.stringify(value);
}

function sendError(res: http.ServerResponse, status: number, message: string): void {
  const type =
    status === 401
      ? 'authentication_error'
      : status === 403
        ? 'permission_error'
        : status === 429
          ? 'rate_limit_error'
          : status >= 500
            ? 'api_error'
            : 'invalid_request_error';
  res.setHeader('request-id', 'req_fake_error');
  sendJson(res, status, { type: 'error', error: { type, message } });
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.round(text.length / 4));
}
