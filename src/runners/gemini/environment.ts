// The environment of a Gemini CLI child (nothing of the worker's beyond the basics and what configures the Gemini
// CLI), and the secrets in it that are cut out of every message we pass on.
import { baseChildEnv } from '../../process/spawn.js';
import { cutSecrets } from '../child-secrets.js';

export function childEnv(home: string, extra: Record<string, string> | undefined): Record<string, string> {
  const env = baseChildEnv({ HOME: home });
  // The worker's own Gemini settings (GEMINI_API_KEY, GOOGLE_GEMINI_BASE_URL, GOOGLE_CLOUD_PROJECT, ...).
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(GEMINI|GOOGLE)_/.test(key)) env[key] = value;
  }
  Object.assign(env, extra ?? {});
  // One node process, not two: by default the CLI re-spawns itself with a bigger heap (and its parent ignores
  // SIGTERM while the child runs), which costs a second start-up on every task.
  env.GEMINI_CLI_NO_RELAUNCH = 'true';
  // A Google login never opens a browser on a worker.
  env.NO_BROWSER = 'true';
  // GEMINI_CLI_HOME would move the CLI's state (settings, conversations) out of the session's own HOME, where
  // one session's agent could read another's conversations.
  delete env.GEMINI_CLI_HOME;
  return env;
}

// Google API keys have a fixed shape: cut them wherever an error message repeats one.
export const sanitize = (text: string, secrets: string[]): string => cutSecrets(text, secrets, /\bAIza[0-9A-Za-z_-]{30,}/g);
