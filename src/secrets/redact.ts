// Every secret this worker knows, collected once at start, cut out of what a coding agent hands back before it
// reaches the workflow history, the logs or a progress event. The sandbox keeps the worker's secrets away from the
// agent; this is the second line: whatever an agent still found (its own provider key, a token it was given on
// purpose, a secret the host leaves readable) does not travel further than the model it came from.
import { readFileSync } from 'node:fs';
import type { CodingConfig } from '../config.js';

export const REDACTED = '[redacted]';

/** Names of variables and config keys that hold secrets. */
const SECRET_NAME = /KEY|TOKEN|SECRET|PASSW|CREDENTIAL|AUTH/i;
/** Shorter values are too likely to be ordinary words or flags ("1", "true") to cut out of text. */
const MIN_LENGTH = 8;

export class Redactor {
  private readonly forms: string[];

  constructor(values: Iterable<string | undefined>) {
    const forms = new Set<string>();
    for (const value of values) {
      if (!value || value.length < MIN_LENGTH) continue;
      forms.add(value);
      forms.add(encodeURIComponent(value));
      // How a git token travels in an http.extraHeader (credentials.ts), and a plain base64 of the value.
      forms.add(Buffer.from(`x-access-token:${value}`).toString('base64'));
      forms.add(Buffer.from(value).toString('base64').replace(/=+$/, ''));
    }
    // Longest first, so a secret containing another is cut out whole.
    this.forms = [...forms].filter((f) => f.length >= MIN_LENGTH).sort((a, b) => b.length - a.length);
  }

  /** The secrets of this worker: git tokens, provider keys and passwords in its config, secret-named variables, NATS credentials. */
  static fromConfig(config: CodingConfig, env: NodeJS.ProcessEnv = process.env): Redactor {
    const values: Array<string | undefined> = [config.git.token, config.opencode.password, env.OPENCODE_SERVER_PASSWORD];
    for (const name of [config.git.token_env, ...config.nats.agent.allowed_token_envs]) if (name) values.push(env[name]);
    // Secret-named variables of the worker (a cloud key it happens to have too); paths (SSH_AUTH_SOCK) are not secrets.
    for (const [name, value] of Object.entries(env)) if (SECRET_NAME.test(name) && !value?.startsWith('/')) values.push(value);
    for (const section of [config.claudecode.env, config.opencode.env, config.codex.env, config.gemini.env, config.qwen.env, config.copilot.env]) {
      for (const [name, value] of Object.entries(section ?? {})) if (SECRET_NAME.test(name)) values.push(value);
    }
    collectSecretFields(config.opencode.config, values);
    values.push(...urlPasswords(config.nats.url), ...natsCreds(config.nats.creds_file));
    return new Redactor(values);
  }

  /** This redactor plus `values` (a session's own git token, named by a variable that does not look secret). */
  with(...values: Array<string | undefined>): Redactor {
    const extra = new Redactor(values);
    if (extra.forms.length === 0) return this;
    const merged = new Redactor([]);
    merged.forms.push(...new Set([...this.forms, ...extra.forms].sort((a, b) => b.length - a.length)));
    return merged;
  }

  get size(): number {
    return this.forms.length;
  }

  text(text: string): string;
  text(text: string | undefined): string | undefined;
  text(text: string | undefined): string | undefined {
    if (!text) return text;
    let out = text;
    for (const form of this.forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  }

  /** A copy of a JSON-like value with every string (keys too) redacted. */
  deep<T>(value: T): T {
    if (typeof value === 'string') return this.text(value) as T;
    if (Array.isArray(value)) return value.map((v) => this.deep(v)) as T;
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [this.text(k), this.deep(v)])) as T;
    }
    return value;
  }

  /** The same error, its message and stack redacted (its class and fields kept, so error kinds still apply). */
  error<E>(error: E): E {
    if (error instanceof Error) {
      error.message = this.text(error.message);
      if (error.stack) error.stack = this.text(error.stack);
    }
    return error;
  }
}

/** Values under secret-named keys anywhere in an object (OpenCode's provider options.apiKey and the like). */
function collectSecretFields(node: unknown, out: Array<string | undefined>, secretParent = false): void {
  if (typeof node === 'string') {
    if (secretParent) out.push(node);
  } else if (Array.isArray(node)) {
    for (const item of node) collectSecretFields(item, out, secretParent);
  } else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) collectSecretFields(value, out, secretParent || SECRET_NAME.test(key));
  }
}

/** Passwords (and tokens given as the user) in URLs like nats://user:password@host, nats://token@host. */
function urlPasswords(urls: string): string[] {
  return [...urls.matchAll(/\/\/([^@/,\s]+)@/g)].flatMap((m) => m[1]!.split(':').map(decodeURIComponent));
}

/** The user JWT and the seed in a NATS credentials file (read once; unreadable means nothing to add). */
function natsCreds(file: string | undefined): string[] {
  if (!file) return [];
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => /^(eyJ[\w-]+\.[\w-]+\.[\w-]+|S[A-Z]{1}[A-Z2-7]{50,})$/.test(line));
  } catch {
    return [];
  }
}
