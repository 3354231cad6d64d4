// The `gemini` runner: the Google Gemini CLI (npm @google/gemini-cli, checked with 0.61.0) as a subprocess, one
// headless run per task:
//
//   gemini -p '' --output-format stream-json --approval-mode yolo --skip-trust [--model M]
//          (--session-id <uuid> | --resume <uuid>)                                   (prompt on stdin)
//
// The working directory is the workspace (the CLI's "workspace directory": its file tools refuse paths outside it).
// HOME is the coding session's own directory under the state dir (session-store.ts: settings.json with the auth
// type and folder trust the CLI needs headless, and its conversations), so resume survives a worker restart and one
// session's agent never sees another's conversations. stdout is read by stream-reader.ts, live token counts come
// from the conversation file (chat-usage.ts), the result is decided by outcome.ts, and the cost is priced from
// coding.pricing (the CLI reports tokens, never a price). Flags and files this relies on are in those files.
import type { AgentCliSettings } from '../agent-cli-settings.js';
import type { AgentOutcome, AgentRunner, AgentTask } from '../../core/runner.js';
import { runProcess } from '../../process/spawn.js';
import { priceTokens } from '../pricing.js';
import { effectiveTimeoutMs } from '../task-limits.js';
import { geminiArgs } from './arguments.js';
import { binaryMissing, resolveGeminiBinary } from './binary.js';
import { ChatUsage } from './chat-usage.js';
import { childEnv } from './environment.js';
import { secretValues } from '../child-secrets.js';
import { interpret } from './outcome.js';
import { chooseSession, findChat, geminiHome, prepareHome, sessionFallback } from './session-store.js';
import { StreamReader } from './stream-reader.js';

export type GeminiSettings = AgentCliSettings;

/** How often the conversation file is read for the tokens spent so far, besides at every tool call. */
const USAGE_POLL_MS = 1000;

export class GeminiRunner implements AgentRunner {
  readonly name = 'gemini' as const;

  constructor(private readonly settings: GeminiSettings) {}

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    const since = new Date(started).toISOString();
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const deadline = started + timeoutMs;
    const home = geminiHome(this.settings.state_dir, task.session_id);
    const geminiDir = prepareHome(home, this.settings.config);
    const env = childEnv(home, this.settings.env);
    if (task.traceparent) env.TRACEPARENT = task.traceparent;
    const secrets = secretValues(env);
    const binary = resolveGeminiBinary(this.settings.binary_path);
    // Inside its walls it writes only the workspace and the session's own HOME (its settings and conversations).
    const sandbox = this.settings.sandbox?.walled ? { sandbox: this.settings.sandbox, room: { writable: [task.workspace_path, home] } } : undefined;
    const price = (tokens: Parameters<typeof priceTokens>[0], model: string | undefined) => priceTokens(tokens, model ?? this.settings.model, this.settings.pricing);

    let session = chooseSession(task, geminiDir); // a conversation it was given that is not here: not_found
    for (let attempt = 0; ; attempt++) {
      task.onBackendSession?.(session.id);
      const stream = new StreamReader(task, session.id);
      const id = session.id;
      let chatFile: string | undefined;
      const chat = new ChatUsage(() => (chatFile ??= findChat(geminiDir, id)), since);
      const report = () => {
        if (!chat.poll()) return;
        const tokens = chat.tokens();
        task.usage?.(tokens, price(tokens, stream.model).cost);
      };
      const poller = setInterval(report, USAGE_POLL_MS);
      let outcome;
      try {
        outcome = await runProcess({
          file: binary,
          args: geminiArgs(this.settings.model, session),
          cwd: task.workspace_path,
          env,
          stdin: task.prompt,
          timeoutMs: Math.max(1, deadline - Date.now()),
          sandbox,
          signal: task.signal,
          onStart: task.onAgentStart,
          onLine: (line) => {
            const type = stream.onLine(line);
            // A model response was recorded before its tool call (or the call's result) is reported.
            if (type === 'tool_use' || type === 'tool_result') report();
          },
        });
      } finally {
        clearInterval(poller);
      }
      if (outcome.spawnError) throw binaryMissing(binary, outcome.spawnError);

      // The store and the flag we chose disagree (a file gone, or one we did not see): switch once; nothing ran.
      const retry = attempt === 0 ? sessionFallback(session, outcome, task.backend_session_id, geminiDir) : undefined;
      if (retry) {
        session = retry;
        continue;
      }
      stream.end();
      report(); // its last count reaches the checkpoint too: a cancelled task fails with what the checkpoint holds
      // The result's figures when the run got that far; else (killed) what the conversation file recorded.
      const tokens = stream.resultTokens() ?? chat.tokens();
      return interpret({ stream, outcome, started, timeoutMs, secrets, tokens, price: price(tokens, stream.model), geminiDir, task });
    }
  }
}

export { geminiHome };
