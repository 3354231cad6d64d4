// The environment of a Claude Code child (nothing of the worker's beyond the basics and what configures
// Claude Code), and the secrets in it that are cut out of every message we pass on.
import { baseChildEnv } from '../../process/spawn.js';
import { cutSecrets } from '../child-secrets.js';

/** The child's environment: nothing of the worker's beyond the basics and what configures Claude Code. */
export function childEnv(home: string, extra: Record<string, string> | undefined): Record<string, string> {
  const env = baseChildEnv({ HOME: home });
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(ANTHROPIC|CLAUDE)_/.test(key)) env[key] = value;
  }
  // Quiet: no telemetry, no update checks, no title-generation request to the model.
  env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
  env.DISABLE_TELEMETRY = '1';
  env.DISABLE_AUTOUPDATER = '1';
  // As root the CLI refuses bypassPermissions ("cannot be used with root/sudo privileges") unless this is set.
  if (process.getuid?.() === 0) env.IS_SANDBOX = '1';
  Object.assign(env, extra ?? {});
  return env;
}

export const sanitize = (text: string, secrets: string[]): string => cutSecrets(text, secrets, /\bsk-ant-[A-Za-z0-9_-]{8,}/g);
