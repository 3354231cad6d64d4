// The `copilot` runner: the GitHub Copilot CLI (npm @github/copilot, checked with 1.0.102) as a subprocess, one
// headless run per task:
//
//   copilot --output-format json --allow-all-tools --no-ask-user --session-id <uuid> [--model M]
//           [--secret-env-vars=<its keys>]                                               (prompt on stdin)
//
// With a provider of your own (COPILOT_PROVIDER_BASE_URL, _TYPE, _API_KEY, COPILOT_MODEL) it needs no GitHub login
// and runs offline; with COPILOT_GITHUB_TOKEN it uses the Copilot service. The working directory is the workspace;
// HOME is the coding session's own directory under the state dir (home.ts), so resume survives a worker restart and
// one session's agent never sees another's conversations. The CLI's unpacked program is shared (package-cache.ts).
// stdout is read by stream-reader.ts, tokens come from the conversation's event log (usage-log.ts), the result is
// decided by outcome.ts, and the cost is priced from coding.pricing (the CLI reports premium requests, not a price).
import type { AgentCliSettings } from '../agent-cli-settings.js';
import path from 'node:path';
import type { AgentOutcome, AgentRunner, AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import { resolveBinary } from '../../process/binaries.js';
import { runProcess } from '../../process/spawn.js';
import { secretNames, secretValues } from '../child-secrets.js';
import { priceTokens } from '../pricing.js';
import { effectiveTimeoutMs } from '../task-limits.js';
import { copilotArgs } from './arguments.js';
import { childEnv } from './environment.js';
import { chooseConversation, copilotHome, eventsFile, prepareHome } from './home.js';
import { interpret } from './outcome.js';
import { compileCacheOf, ensurePackageCache } from './package-cache.js';
import { StreamReader } from './stream-reader.js';
import { UsageLog } from './usage-log.js';

/** No `config`: the CLI's settings are its flags and COPILOT_* variables (`env`). */
export type CopilotSettings = Omit<AgentCliSettings, 'config'>;

/** How often the event log is read for the tokens spent so far, besides at every tool call. */
const USAGE_POLL_MS = 1000;

export class CopilotRunner implements AgentRunner {
  readonly name = 'copilot' as const;

  constructor(private readonly settings: CopilotSettings) {}

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const binary = resolveBinary(this.settings.binary_path, 'copilot', '@github/copilot');
    const packageCache = path.join(this.settings.state_dir, 'package-cache');
    await ensurePackageCache(binary, packageCache);
    const home = copilotHome(this.settings.state_dir, task.session_id);
    const copilotDir = prepareHome(home, compileCacheOf(packageCache));
    const env = childEnv(home, packageCache, this.settings.model, this.settings.env);
    if (task.traceparent) env.TRACEPARENT = task.traceparent;
    const secrets = secretValues(env);

    const conversationId = chooseConversation(task, copilotDir); // one it was given that is not here: not_found
    task.onBackendSession?.(conversationId);
    const usage = new UsageLog(eventsFile(copilotDir, conversationId));
    const price = () => priceTokens(usage.tokens(), usage.model() ?? this.settings.model ?? env.COPILOT_MODEL, this.settings.pricing);
    const report = () => {
      if (usage.poll()) task.usage?.(usage.tokens(), price().cost);
    };
    const stream = new StreamReader(task);
    const poller = setInterval(report, USAGE_POLL_MS);
    let outcome;
    try {
      outcome = await runProcess({
        file: binary,
        args: copilotArgs(this.settings.model, conversationId, secretNames(env)),
        cwd: task.workspace_path,
        env,
        stdin: task.prompt,
        timeoutMs,
        // Inside its walls it writes only the workspace and the session's own HOME; the shared program it only reads.
        sandbox: this.settings.sandbox?.walled
          ? { sandbox: this.settings.sandbox, room: { writable: [task.workspace_path, home], readable: [packageCache] } }
          : undefined,
        signal: task.signal,
        onStart: task.onAgentStart,
        onLine: (line) => {
          if (stream.onLine(line) === 'tool.execution_start') report();
        },
      });
    } finally {
      clearInterval(poller);
    }
    if (outcome.spawnError) {
      throw new CodingError(
        `cannot start the Copilot CLI '${binary}' (${outcome.spawnError.code ?? outcome.spawnError.message}): install it with ` +
          '`npm install -g @github/copilot` or set coding.copilot.binary_path to its path',
        'binary_missing',
        false,
      );
    }
    report(); // its last count reaches the checkpoint too: a cancelled task fails with what it spent
    return interpret({ stream, outcome, conversationId, started, timeoutMs, secrets, tokens: usage.tokens(), price: price(), task });
  }
}
