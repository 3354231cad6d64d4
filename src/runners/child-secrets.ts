// The secrets an agent's child process holds (its provider key, tokens: any variable named like one), and cutting
// them out of everything taken from the agent (summaries, errors, progress). Each runner adds the shape of its
// provider's keys, so a key the CLI echoes in an error is cut even when it did not come from the environment.
import { stripAnsi } from './agent-text.js';

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|AUTH|CREDENTIAL/i;

/** Values of the child's secret-looking variables (6 characters or more). */
export function secretValues(env: Record<string, string>): string[] {
  return Object.entries(env)
    .filter(([key, value]) => SECRET_NAME.test(key) && value.length >= 6)
    .map(([, value]) => value);
}

/** Names of the child's secret-looking variables that are set (for a CLI that hides them from its own tools). */
export function secretNames(env: Record<string, string>): string[] {
  return Object.keys(env).filter((key) => SECRET_NAME.test(key) && env[key]);
}

/** `text` without ANSI colours, every value of `secrets`, or anything shaped like `keyShape` (a /g pattern). */
export function cutSecrets(text: string, secrets: string[], keyShape: RegExp): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return stripAnsi(out.replace(keyShape, '[redacted]'));
}
