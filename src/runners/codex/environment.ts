// The environment of a Codex child (nothing of the worker's beyond the basics and what configures Codex), and
// the secrets in it that are cut out of every message we pass on.
import { baseChildEnv } from '../../process/spawn.js';
import { cutSecrets } from '../child-secrets.js';

export function childEnv(home: string, codexHome: string, extra: Record<string, string> | undefined): Record<string, string> {
  const env = baseChildEnv({ HOME: home });
  // OPENAI_API_KEY / CODEX_API_KEY and the like from the worker; never its CODEX_HOME (the session has its own).
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(OPENAI|CODEX)_/.test(key) && key !== 'CODEX_HOME') env[key] = value;
  }
  Object.assign(env, extra ?? {});
  env.CODEX_HOME = codexHome;
  return env;
}

export const sanitize = (text: string, secrets: string[]): string => cutSecrets(text, secrets, /\bsk-[A-Za-z0-9_-]{16,}/g);
