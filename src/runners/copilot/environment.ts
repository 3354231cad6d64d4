// The environment of a Copilot CLI child (nothing of the worker's beyond the basics and what configures the Copilot
// CLI), and the secrets in it that are cut out of every message we pass on.
import { baseChildEnv } from '../../process/spawn.js';
import { cutSecrets } from '../child-secrets.js';
import { compileCacheIn } from './home.js';

export function childEnv(home: string, packageCache: string, model: string | undefined, extra: Record<string, string> | undefined): Record<string, string> {
  const env = baseChildEnv({ HOME: home });
  // The worker's own Copilot settings (COPILOT_PROVIDER_*, COPILOT_GITHUB_TOKEN, ...). Not GH_TOKEN or GITHUB_TOKEN:
  // on a worker those are often the git token, which goes to the git host only; name one in coding.copilot.env.
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && key.startsWith('COPILOT_')) env[key] = value;
  }
  Object.assign(env, extra ?? {});
  if (model && !env.COPILOT_MODEL) env.COPILOT_MODEL = model;
  // With a provider of your own (BYOK), nothing needs GitHub: offline, no telemetry, login or update check leaves.
  if (env.COPILOT_PROVIDER_BASE_URL && env.COPILOT_OFFLINE === undefined) env.COPILOT_OFFLINE = 'true';
  env.COPILOT_AUTO_UPDATE = 'false';
  // The CLI's unpacked program, shared by the worker's sessions (package-cache.ts); its state stays in HOME.
  env.COPILOT_PKG_CACHE_HOME = packageCache;
  // Compiled code kept between the session's tasks (package-cache.ts: /tmp is empty inside the walls).
  env.NODE_COMPILE_CACHE = compileCacheIn(home);
  delete env.COPILOT_HOME;
  delete env.COPILOT_CACHE_HOME;
  return env;
}

// GitHub tokens have fixed shapes: cut them wherever an error message repeats one.
export const sanitize = (text: string, secrets: string[]): string => cutSecrets(text, secrets, /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})/g);
