// Builds the backends a worker serves from the config. Runners are created on first use, so a worker
// whose config names a backend that is not installed still serves the others.
import { join } from 'node:path';
import type { Backend as BackendName } from '../contract.js';
import type { CodingConfig } from '../config.js';
import { stateDir } from '../paths.js';
import type { BackendRegistry } from '../activities/index.js';
import type { AgentRunner, CodingBackend } from './backend.js';
import { ClaudeCodeRunner } from '../runners/claudecode/runner.js';
import { CodingError } from './errors.js';
import { LocalBackend } from './local.js';
import { NatsBackend } from '../nats/backend.js';
import { OpenCodeCliRunner } from '../runners/opencode-cli/runner.js';
import { OpenCodeServerRunner } from '../runners/opencode/runner.js';
import { LocalWorkspace } from '../git/workspace.js';

export class LocalBackendRegistry implements BackendRegistry {
  private readonly workspace: LocalWorkspace;
  private readonly backends = new Map<BackendName, CodingBackend>();
  private readonly runners: AgentRunner[] = [];
  private readonly closers: Array<() => Promise<void>> = [];

  constructor(
    private readonly config: CodingConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {
    this.workspace = LocalWorkspace.fromConfig(config);
  }

  /**
   * The git token a session may use: its own `credentials.token_env`, else `coding.git.token_env`,
   * else `coding.git.token`. Looked up when needed, never stored.
   */
  tokenFor = (tokenEnv: string | undefined): string | undefined => {
    if (tokenEnv) return this.env[tokenEnv] || undefined;
    const { token_env, token } = this.config.git;
    return (token_env ? this.env[token_env] : undefined) || token || undefined;
  };

  get(name: BackendName): CodingBackend {
    let backend = this.backends.get(name);
    if (!backend) {
      if (name === 'opencode-nats') {
        // The workspace and the coding are on a coding agent (`nats-agent`), reached over NATS JetStream.
        const nats = new NatsBackend(this.config);
        this.closers.push(() => nats.shutdown());
        backend = nats;
      } else {
        const runner = this.createRunner(name);
        this.runners.push(runner);
        backend = new LocalBackend(name, this.workspace, runner, this.tokenFor, this.config.task_timeout_min * 60_000);
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
    switch (name) {
      case 'claudecode':
        return new ClaudeCodeRunner(c.claudecode);
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
        });
      case 'opencode-cli':
        return new OpenCodeCliRunner({
          binary_path: c.cli.binary_path,
          timeout_sec: c.cli.timeout_sec,
          model: c.cli.model ?? c.opencode.model,
          config: c.opencode.config,
          env: c.opencode.env,
          state_dir: opencodeState,
        });
      case 'opencode-nats':
        throw new CodingError('opencode-nats has no local runner: its tasks run on coding agents (station-coding nats-agent)', 'invalid_input');
    }
  }
}
