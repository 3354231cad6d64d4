// The `codex` runner: the OpenAI Codex CLI (npm @openai/codex, checked with 0.169.0) as a subprocess, one
// `codex exec` per task.
//
//   codex exec [resume <thread_id>] --json --skip-git-repo-check
//              --dangerously-bypass-approvals-and-sandbox  -
//
// The prompt is on stdin (`-`); the working directory is the workspace. Files, one concern each:
//   arguments.ts      the command line, and why bypassing Codex's own sandbox and approvals is safe inside ours
//                     (and why its own sandbox cannot be used here)
//   codex-home.ts     a CODEX_HOME per coding session under the state dir (config.toml from coding.codex, the
//                     user's `codex login` auth.json copied in), so sessions never see each other's threads
//   stream-reader.ts  the JSONL events on stdout (thread.started, item.*, turn.completed/failed, error)
//   rollout.ts        Codex's own thread file: resumable or not, the running usage total, usage while running
//   outcome.ts        per-run tokens (turn.completed.usage is the thread's RUNNING TOTAL: we subtract the total
//                     before the run), cost from coding.pricing, success or the error kind
//   environment.ts    the child's environment and the secrets cut out of what we pass on
// Resume: a later task, and a retry of a task whose worker died, continue the thread with `codex exec resume`;
// a thread this worker does not have is a CodingError 'not_found' naming it, and LocalBackend starts a new one.
import type { AgentCliSettings } from '../agent-cli-settings.js';
import type { AgentOutcome, AgentRunner, AgentTask } from '../../core/runner.js';
import { runProcess } from '../../process/spawn.js';
import { priceTokens } from '../pricing.js';
import { effectiveTimeoutMs } from '../task-limits.js';
import { codexArgs } from './arguments.js';
import { binaryMissing, resolveCodexBinary } from './binary.js';
import { prepareCodexHome } from './codex-home.js';
import { childEnv } from './environment.js';
import { secretValues } from '../child-secrets.js';
import { interpret, runTokens, threadNotFound } from './outcome.js';
import { findRollout, RolloutReader, type CodexUsage } from './rollout.js';
import { CodexStreamReader } from './stream-reader.js';

export type CodexSettings = AgentCliSettings;

export class CodexRunner implements AgentRunner {
  readonly name = 'codex' as const;

  constructor(private readonly settings: CodexSettings) {}

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const walled = this.settings.sandbox?.walled ?? false;
    const { dir, codexHome } = prepareCodexHome({
      stateDir: this.settings.state_dir,
      sessionId: task.session_id,
      model: this.settings.model,
      config: this.settings.config,
    });
    // The model whose price applies: coding.codex.model, else a `model` key in coding.codex.config.
    const model = this.settings.model ?? (typeof this.settings.config?.model === 'string' ? this.settings.config.model : undefined);

    // A thread to continue must be on this worker; its running total before this run is the baseline.
    let before: CodexUsage | undefined;
    if (task.backend_session_id) {
      const file = findRollout(codexHome, task.backend_session_id);
      if (!file) throw threadNotFound(task.backend_session_id, codexHome);
      const rollout = new RolloutReader(file);
      rollout.poll();
      before = rollout.total;
      task.onBackendSession?.(task.backend_session_id);
    }

    const env = childEnv(dir, codexHome, this.settings.env);
    if (task.traceparent) env.TRACEPARENT = task.traceparent;
    const secrets = secretValues(env);
    const binary = resolveCodexBinary(this.settings.binary_path);

    let reported = '';
    const report = (total: CodexUsage | undefined) => {
      const tokens = runTokens(total, before);
      const key = JSON.stringify(tokens);
      if (key === reported) return;
      reported = key;
      task.usage?.(tokens, priceTokens(tokens, model, this.settings.pricing).cost);
    };
    const stream = new CodexStreamReader(task, (id) => {
      if (id !== task.backend_session_id) task.onBackendSession?.(id);
    });
    const outcome = await runProcess({
      file: binary,
      args: codexArgs({ threadId: task.backend_session_id }),
      cwd: task.workspace_path,
      env,
      stdin: task.prompt,
      timeoutMs,
      signal: task.signal,
      onStart: task.onAgentStart,
      onLine: (line) => {
        stream.onLine(line);
        if (stream.finalTotal) report(stream.finalTotal);
      },
      // Inside the walls it writes only the workspace and its own session directory (HOME and CODEX_HOME).
      sandbox: walled ? { sandbox: this.settings.sandbox!, room: { writable: [task.workspace_path, dir] } } : undefined,
    });
    if (outcome.spawnError) throw binaryMissing(binary, outcome.spawnError);

    // turn.completed is the only usage Codex gives (see rollout.ts): a run stopped mid-turn reports none.
    const tokens = runTokens(stream.finalTotal, before);
    return interpret({ stream, outcome, tokens, model, pricing: this.settings.pricing, started, timeoutMs, secrets, task, codexHome });
  }
}
