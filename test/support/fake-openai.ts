// A fake OpenAI chat-completions server on 127.0.0.1: the only fake in the OpenCode tests. The real
// `opencode` binary (its bundled @ai-sdk/openai-compatible provider) talks to it exactly as it would talk
// to a real provider: POST /v1/chat/completions with `stream: true`, answered with SSE chunks
// (`choices[].delta.content` / `delta.tool_calls`, `finish_reason`) and a final usage chunk.
//
// A script decides each answer. "Main" requests (the agent loop) carry `tools`; the others (title
// generation, summaries) get a short text. Every request is recorded.
import { openEventStream, scriptedTurn, sendJson, serveFakeModel, type FakeModelServer, type FakeScript, type FakeTurn } from './fake-model.js';

export type { FakeTurn, RecordedRequest, FakeScript } from './fake-model.js';
export type FakeOpenAI = FakeModelServer;

/** Usage reported on every completion: opencode turns it into tokens and (with a model cost) cost. */
export const FAKE_USAGE = { prompt_tokens: 120, completion_tokens: 30, cached_tokens: 20 };

/**
 * Pull the working directory out of the agent's prompt: opencode's system prompt ("Working directory: /..."), or
 * Qwen Code's first user message ("I'm currently working in the directory: /...").
 */
export function findCwd(request: any): string | undefined {
  const messages: any[] = Array.isArray(request?.messages) ? request.messages : [];
  for (const message of messages) {
    const text = contentText(message?.content);
    const match =
      message?.role === 'system'
        ? (/Working directory:\s*(\S+)/i.exec(text) ?? /<cwd>\s*(\S+?)\s*<\/cwd>/i.exec(text))
        : message?.role === 'user'
          ? /I'm currently working in the directory:\s*(\S+)/.exec(text)
          : null;
    if (match) return match[1];
  }
  return undefined;
}

function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((c) => (typeof c === 'string' ? c : typeof c?.text === 'string' ? c.text : '')).join('\n');
  }
  return '';
}

/** Number of tool results in the conversation so far: which step of the script we are at. */
export function countToolResults(request: any): number {
  const messages: any[] = Array.isArray(request?.messages) ? request.messages : [];
  // Only this task's results: a resumed session starts the script over at its new prompt.
  return messages.slice(messages.findLastIndex((m) => m?.role === 'user') + 1).filter((m) => m?.role === 'tool').length;
}

/**
 * The standard conversation: a `write` of `file` (absolute, inside the workspace found in the system
 * prompt), then a `bash` call, then a final text. Counted from the tool results since the last user
 * message, so every task of a resumed session plays the script from the start.
 */
export function defaultScript(
  opts: { file?: string; content?: string; command?: string; finalText?: string } = {},
): FakeScript {
  const file = opts.file ?? 'hello.txt';
  const content = opts.content ?? 'hello from the fake model\n';
  const command = opts.command ?? 'ls';
  const finalText = opts.finalText ?? 'Done: wrote the file and listed the directory.';
  return ({ cwd, turnIndex }) => {
    const step = turnIndex % 3;
    if (step === 0) {
      const filePath = file.startsWith('/') ? file : `${(cwd ?? process.cwd()).replace(/\/+$/, '')}/${file}`;
      return { text: 'I will write the file.', tool: { name: 'write', input: { filePath, content } } };
    }
    if (step === 1) {
      return { tool: { name: 'bash', input: { command, description: 'Run the requested command' } } };
    }
    return { text: finalText };
  };
}

/**
 * The standard conversation in Qwen Code's tool names (`write_file {file_path, content}`, `run_shell_command
 * {command}`). Qwen refuses a shell command that sleeps unless the sleep stands last and says why (its guard
 * against agents that wait instead of working: "Blocked: sleep 3 followed by: ..."), as a model it prompts does:
 * the script moves a leading `sleep N &&` to the end and says why.
 */
export function qwenScript(opts: Parameters<typeof defaultScript>[0] = {}): FakeScript {
  const inner = defaultScript(opts);
  return (context) => {
    const turn = inner(context);
    const tool = turn.tool;
    if (tool?.name === 'write') return { ...turn, tool: { name: 'write_file', input: { file_path: tool.input.filePath, content: tool.input.content } } };
    if (tool?.name === 'bash') {
      let command = String(tool.input.command);
      const leading = /^sleep (\d+) && (.+)$/.exec(command);
      if (leading) command = `${leading[2]} && sleep ${leading[1]}`;
      if (/\bsleep\b/.test(command)) command += ' # intentional-sleep: the scripted test waits here';
      return { ...turn, tool: { name: 'run_shell_command', input: { command } } };
    }
    return turn;
  };
}

/** The standard conversation in the Copilot CLI's tool names: `create {path, file_text}`, `bash {command, description}`. */
export function copilotScript(opts: Parameters<typeof defaultScript>[0] = {}): FakeScript {
  const inner = defaultScript(opts);
  return (context) => {
    const turn = inner(context);
    const tool = turn.tool;
    if (tool?.name === 'write') return { ...turn, tool: { name: 'create', input: { path: tool.input.filePath, file_text: tool.input.content } } };
    return turn; // `bash {command, description}` is the Copilot CLI's own shape
  };
}

export function startFakeOpenAI(script: FakeScript = defaultScript()): Promise<FakeOpenAI> {
  let counter = 0;
  return serveFakeModel(
    {
      basePath: '/v1',
      isMain: ({ body }) => Array.isArray(body?.tools) && body.tools.length > 0,
      async respond(call, res) {
        if (call.method !== 'POST' || !call.route.endsWith('/chat/completions')) {
          return sendJson(res, 404, { error: { message: `fake-openai: no route ${call.method} ${call.url}`, type: 'not_found' } });
        }
        const { body } = call;
        const turn = call.isMain ? scriptedTurn(call, { cwd: findCwd(body), turnIndex: countToolResults(body) }, 'fake-openai') : { text: 'Fake title' };
        const stream = body?.stream !== false;
        if (turn.stallMs && turn.stallMs > 0) {
          if (!turn.status) openEventStream(res);
          await call.wait(turn.stallMs);
        }
        if (res.destroyed) return;
        if (turn.status && turn.status >= 400) {
          return sendJson(res, turn.status, {
            error: {
              message: turn.errorMessage ?? `fake-openai error ${turn.status}`,
              type: turn.status === 401 ? 'invalid_request_error' : 'server_error',
              code: turn.status === 401 ? 'invalid_api_key' : null,
              param: null,
            },
          });
        }
        const id = `chatcmpl-fake-${++counter}`;
        const model = typeof body?.model === 'string' ? body.model : 'fake';
        if (!stream && !res.headersSent) return sendJson(res, 200, completion(id, model, turn));
        openEventStream(res);
        for (const chunk of streamChunks(id, model, turn)) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        res.end('data: [DONE]\n\n');
      },
    },
    script,
  );
}

function usage() {
  return {
    prompt_tokens: FAKE_USAGE.prompt_tokens,
    completion_tokens: FAKE_USAGE.completion_tokens,
    total_tokens: FAKE_USAGE.prompt_tokens + FAKE_USAGE.completion_tokens,
    prompt_tokens_details: { cached_tokens: FAKE_USAGE.cached_tokens },
    completion_tokens_details: { reasoning_tokens: 0 },
  };
}

function streamChunks(id: string, model: string, turn: FakeTurn): unknown[] {
  const created = Math.floor(Date.now() / 1000);
  const base = { id, object: 'chat.completion.chunk', created, model };
  const chunks: unknown[] = [{ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }];
  if (turn.text) {
    const pieces = turn.text.match(/.{1,24}/gs) ?? [turn.text];
    for (const piece of pieces) chunks.push({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
  }
  if (turn.tool) {
    const args = JSON.stringify(turn.tool.input);
    const callId = `call_${id.replace(/[^A-Za-z0-9]/g, '')}`;
    chunks.push({
      ...base,
      choices: [
        {
          index: 0,
          delta: { tool_calls: [{ index: 0, id: callId, type: 'function', function: { name: turn.tool.name, arguments: '' } }] },
          finish_reason: null,
        },
      ],
    });
    const half = Math.ceil(args.length / 2);
    for (const piece of [args.slice(0, half), args.slice(half)]) {
      chunks.push({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, finish_reason: null }] });
    }
  }
  chunks.push({ ...base, choices: [{ index: 0, delta: {}, finish_reason: turn.tool ? 'tool_calls' : 'stop' }] });
  chunks.push({ ...base, choices: [], usage: usage() });
  return chunks;
}

function completion(id: string, model: string, turn: FakeTurn): unknown {
  const message: Record<string, unknown> = { role: 'assistant', content: turn.text ?? null };
  if (turn.tool) {
    message.tool_calls = [{ id: `call_${id}`, type: 'function', function: { name: turn.tool.name, arguments: JSON.stringify(turn.tool.input) } }];
  }
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [{ index: 0, message, finish_reason: turn.tool ? 'tool_calls' : 'stop' }],
    usage: usage(),
  };
}
