// The environment of a Gemini CLI child (nothing of the worker's beyond the basics and what configures the Gemini
// CLI), and the secrets in it that are cut out of every message we pass on.
import { baseChildEnv } from '../../process/spawn.js';
import { stripAnsi } from '../agent-text.js';

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

/** Values of the child's secret-looking variables: they are cut out of every message we pass on. */
export function secretValues(env: Record<string, string>): string[] {
  return Object.entries(env)
    .filter(([key, value]) => /KEY|TOKEN|SECRET|PASSWORD|AUTH|CREDENTIAL/i.test(key) && value.length >= 6)
    .map(([, value]) => value);
}

export function sanitize(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  // Google API keys have a fixed shape: cut them wherever an error message repeats one.
  return stripAnsi(out.replace(/\bAIza[0-9A-Za-z_-]{30,}/g, '[redacted]'));
}
