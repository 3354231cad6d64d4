// What a runner of an agent CLI added after OpenCode is given (codex, gemini, qwen, copilot): the config section
// every one of them shares (config.ts agentCliConfig), where its per-session state goes, prices and walls.
import type { Sandbox } from '../process/sandbox.js';
import type { Pricing } from './pricing.js';

export interface AgentCliSettings {
  binary_path: string;
  timeout_sec: number;
  /** The model (the CLI's --model); unset: the CLI's own default or its environment's. */
  model?: string;
  /** The CLI's own settings, as its runner writes them into the session's state (its runner says where). */
  config?: Record<string, unknown>;
  /** Extra environment for the child: the provider's endpoint and key. */
  env?: Record<string, string>;
  /** Where each coding session's state directory lives. */
  state_dir: string;
  /** Prices per model (coding.pricing): the cost of a task whose CLI reports only tokens. */
  pricing?: Pricing;
  /** Walls around the CLI process (none when unset). */
  sandbox?: Sandbox;
}
