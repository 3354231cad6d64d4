// What a worker's config gives the claudecode runner (coding.claudecode, plus the sandbox it decided on).
import type { Sandbox } from '../../process/sandbox.js';

export interface ClaudeCodeSettings {
  binary_path: string;
  timeout_sec: number;
  model?: string;
  max_turns: number;
  allowed_tools?: string[];
  disallowed_tools?: string[];
  /** HOME for the child (where claude keeps sessions and its login); default the worker's HOME */
  home?: string;
  /** extra environment for the child, e.g. ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY */
  env?: Record<string, string>;
  /** walls around the claude process (none when unset) */
  sandbox?: Sandbox;
}
