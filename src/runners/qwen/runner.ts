// The `qwen` runner: Qwen Code (npm @qwen-code/qwen-code, checked with 0.24.4) as a subprocess, one headless run per
// task:
//
//   qwen -p '' --output-format stream-json --approval-mode yolo [--model M] (--session-id <uuid> | --resume <uuid>)
//                                                                                       (prompt on stdin)
//
// It talks to any OpenAI-compatible endpoint (OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL). The working directory
// is the workspace; HOME is the coding session's own directory under the state dir (home.ts: settings.json and the
// conversations), so resume survives a worker restart and one session's agent never sees another's conversations.
// Its stream-json is Claude Code's shape, read by the claudecode StreamReader; the result is decided by outcome.ts,
// and the cost is priced from coding.pricing (the CLI reports tokens, never a price).
import type { AgentCliSettings } from '../agent-cli-settings.js';
import type { AgentOutcome, AgentRunner, AgentTask } from '../../core/runner.js';
import type { Tokens } from '../../contract.js';
import { CodingError } from '../../core/errors.js';
import { resolveBinary } from '../../process/binaries.js';
import { runProcess } from '../../process/spawn.js';
import { StreamReader } from '../claudecode/stream-reader.js';
import { secretValues } from '../child-secrets.js';
import { priceTokens } from '../pricing.js';
import { effectiveTimeoutMs } from '../task-limits.js';
import { qwenArgs } from './arguments.js';
import { childEnv } from './environment.js';
import { chooseConversation, prepareHome, qwenHome } from './home.js';
import { interpret } from './outcome.js';

export type QwenSettings = AgentCliSettings;

export class QwenRunner implements AgentRunner {
  readonly name = 'qwen' as const;

  constructor(private readonly settings: QwenSettings) {}

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const home = qwenHome(this.settings.state_dir, task.session_id);
    const qwenDir = prepareHome(home, this.settings.config);
    const env = childEnv(home, this.settings.model, this.settings.env);
    if (task.traceparent) env.TRACEPARENT = task.traceparent;
    const secrets = secretValues(env);
    const binary = resolveBinary(this.settings.binary_path, 'qwen', '@qwen-code/qwen-code');
    const model = this.settings.model ?? env.OPENAI_MODEL;
    const price = (tokens: Tokens) => priceTokens(tokens, model, this.settings.pricing);

    const conversation = chooseConversation(task, qwenDir); // one it was given that is not here: not_found
    task.onBackendSession?.(conversation.id);
    // OpenAI counts cached input inside input_tokens; the contract counts each once.
    const ownTokens = (t: Tokens): Tokens => ({ ...t, input: Math.max(0, t.input - t.cache_read) });
    const stream = new StreamReader(
      { ...task, usage: (tokens) => task.usage?.(ownTokens(tokens), price(ownTokens(tokens)).cost) },
      conversation.id,
      'conversation',
    );
    const outcome = await runProcess({
      file: binary,
      args: qwenArgs(this.settings.model, conversation),
      cwd: task.workspace_path,
      env,
      stdin: task.prompt,
      timeoutMs,
      // Inside its walls it writes only the workspace and the session's own HOME (its settings and conversations).
      sandbox: this.settings.sandbox?.walled ? { sandbox: this.settings.sandbox, room: { writable: [task.workspace_path, home] } } : undefined,
      signal: task.signal,
      onStart: task.onAgentStart,
      onLine: (line) => stream.onLine(line),
    });
    if (outcome.spawnError) {
      throw new CodingError(
        `cannot start Qwen Code '${binary}' (${outcome.spawnError.code ?? outcome.spawnError.message}): install it with ` +
          '`npm install -g @qwen-code/qwen-code` or set coding.qwen.binary_path to its path',
        'binary_missing',
        false,
      );
    }
    const tokens = ownTokens(stream.tokens());
    return interpret({ stream, outcome, started, timeoutMs, secrets, tokens, price: price(tokens), task });
  }
}
