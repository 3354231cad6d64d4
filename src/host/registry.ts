// Builds the backends a worker serves from the config. Runners are created on first use, so a worker
// whose config names a backend that is not installed still serves the others.
import { join } from 'node:path';
import type { Backend as BackendName } from '../contract.js';
import type { CodingConfig } from '../config.js';
import { stateDir } from '../paths.js';
import type { BackendRegistry, CodingBackend } from '../core/backend.js';
import type { AgentRunner } from '../core/runner.js';
import { ClaudeCodeRunner } from '../runners/claudecode/runner.js';
import { CodingError } from '../core/errors.js';
import { LocalBackend } from '../backends/local.js';
import { CheckpointedBackend } from '../backends/checkpointed.js';
import { CheckpointStore } from '../git/checkpoint.js';
import { NatsBackend } from '../backends/nats/backend.js';
import { CodexRunner } from '../runners/codex/runner.js';
import { OpenCodeCliRunner } from '../runners/opencode-cli/runner.js';
import { GeminiRunner } from '../runners/gemini/runner.js';
import { QwenRunner } from '../runners/qwen/runner.js';
import { CopilotRunner } from '../runners/copilot/runner.js';
import { OpenCodeServerRunner } from '../runners/opencode/runner.js';
import { LocalWorkspace } from '../git/workspace.js';
import { agentSandbox } from '../process/agent-walls.js';
import type { Sandbox } from '../process/sandbox.js';
import { Redactor } from '../secrets/redact.js';

export class LocalBackendRegistry implements BackendRegistry {
  private readonly workspace: LocalWorkspace;
  private readonly backends = new Map<BackendName, CodingBackend>();
  private readonly runners: AgentRunner[] = [];
  private readonly closers: Array<() => Promise<void>> = [];
  /** Walls around every agent process, and the secrets cut out of what agents hand back: both decided at start. */
  readonly sandbox: Sandbox;
  readonly redactor: Redactor;

  constructor(
    private readonly config: CodingConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
    /** Checkpoint the workspaces for failover (a worker; not a NATS agent, whose workspaces no worker re-creates). */
    options: { checkpoints: boolean } = { checkpoints: true },
  ) {
    this.workspace = LocalWorkspace.fromConfig(config, env);
    if (options.checkpoints && config.checkpoint?.dir) this.checkpoints = new CheckpointStore(config.checkpoint.dir);
    this.sandbox = agentSandbox(config, env);
    // Every configured git token is cut out too, whatever its variable is called.
    this.redactor = Redactor.fromConfig(config, env).with(...this.workspace.credentials.secrets());
  }

  /** The shared store of workspace checkpoints (coding.checkpoint.dir): a lost worker's sessions move elsewhere. */
  private readonly checkpoints?: CheckpointStore;

  /** Every git token configured on this host (looked up when needed, never stored), for redaction. */
  secrets = (): string[] => this.workspace.credentials.secrets();

  get(name: BackendName): CodingBackend {
    let backend = this.backends.get(name);
    if (!backend) {
      if (name === 'nats' || name === 'opencode-nats') {
        // The workspace and the coding are on a coding agent (`nats-agent`), reached over NATS JetStream.
        const nats = new NatsBackend(this.config, name);
        this.closers.push(() => nats.shutdown());
        backend = nats;
      } else {
        const runner = this.createRunner(name);
        this.runners.push(runner);
        const checks = { sandbox: this.sandbox, output_bytes: this.config.check_output_bytes };
        const local = new LocalBackend(name, this.workspace, runner, this.config.task_timeout_min * 60_000, this.redactor, checks);
        backend = this.checkpoints ? new CheckpointedBackend(local, this.checkpoints, (message) => console.error(`station-coding worker: ${this.redactor.text(message)}`)) : local;
      }
      this.backends.set(name, backend);
    }
    return backend;
  }

  /** Remove the clone cache's mirrors unused for coding.git.clone_cache_keep_days (at worker start). */
  async removeUnusedMirrors(): Promise<string[]> {
    return (await this.workspace.cloneCache?.removeUnused(this.config.git.clone_cache_keep_days, this.config.workspace_base_path)) ?? [];
  }

  async shutdown(): Promise<void> {
    await Promise.allSettled([...this.runners.map((r) => r.shutdown?.()), ...this.closers.map((close) => close())]);
  }

  private createRunner(name: BackendName): AgentRunner {
    const c = this.config;
    const opencodeState = join(stateDir(this.env), 'opencode');
    const sandbox = this.sandbox;
    switch (name) {
      case 'claudecode':
        return new ClaudeCodeRunner({ ...c.claudecode, sandbox });
      case 'opencode':
        return new OpenCodeServerRunner({
          url: c.opencode.url,
          password: c.opencode.password ?? this.env.OPENCODE_SERVER_PASSWORD,
          model: c.opencode.model,
          config: c.opencode.config,
          env: c.opencode.env,
          binary_path: c.opencode.binary_path,
          timeout_sec: c.task_timeout_min * 60,
          state_dir: opencodeState,
          sandbox,
          // One server serves every session: it sees all workspaces this worker may use.
          workspace_roots: [c.workspace_base_path, ...(c.allowed_workspace_roots ?? [])],
        });
      case 'opencode-cli':
        return new OpenCodeCliRunner({
          binary_path: c.cli.binary_path,
          timeout_sec: c.cli.timeout_sec,
          model: c.cli.model ?? c.opencode.model,
          config: c.opencode.config,
          env: c.opencode.env,
          state_dir: opencodeState,
          sandbox,
        });
      case 'codex':
        return new CodexRunner({
          ...c.codex,
          // Each coding session gets its own CODEX_HOME under here (runners/codex/codex-home.ts).
          state_dir: join(stateDir(this.env), 'codex'),
          pricing: c.pricing,
          sandbox,
        });
      case 'gemini':
        return new GeminiRunner({
          ...c.gemini,
          // One HOME per coding session under here (its settings and conversations): resume survives a restart.
          state_dir: join(stateDir(this.env), 'gemini'),
          pricing: c.pricing,
          sandbox,
        });
      case 'qwen':
        return new QwenRunner({
          ...c.qwen,
          // One HOME per coding session under here (its settings and conversations): resume survives a restart.
          state_dir: join(stateDir(this.env), 'qwen'),
          pricing: c.pricing,
          sandbox,
        });
      case 'copilot':
        return new CopilotRunner({
          ...c.copilot,
          // The CLI's unpacked program, shared, and one HOME per coding session under here.
          state_dir: join(stateDir(this.env), 'copilot'),
          pricing: c.pricing,
          sandbox,
        });
      case 'nats':
      case 'opencode-nats':
        throw new CodingError(`${name} has no local runner: its tasks run on coding agents (station-coding nats-agent)`, 'invalid_input');
    }
  }
}
