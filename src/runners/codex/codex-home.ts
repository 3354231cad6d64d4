// A Codex home of its own for every coding session: <state_dir>/codex/<session>/ holds HOME and CODEX_HOME
// (.codex: config.toml, sessions/ with the conversations, Codex's sqlite state). One session's agent sees only
// its own conversations (the sandbox makes only this directory and the workspace writable, the rest of the
// state dir stays hidden), and the threads survive a worker restart, so `codex exec resume` finds them.
//
// config.toml is rewritten before every run from coding.codex (model, config) so a changed worker config
// applies to the next task. A user who signed in with `codex login` has an auth.json in their own CODEX_HOME
// (or ~/.codex): it is copied in (when newer), so their ChatGPT plan works without an API key.
import { copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CodingError } from '../../core/errors.js';

export interface CodexHome {
  /** The session's directory: HOME of the child, and the room it may write besides the workspace. */
  dir: string;
  /** CODEX_HOME (dir/.codex). */
  codexHome: string;
}

/** Where a coding session's Codex state lives (stateDir: <state_dir>/codex); delete it when the session is closed for good. */
export function codexSessionDir(stateDir: string, sessionId: string): string {
  const safe = sessionId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 120) || 'default';
  return path.resolve(stateDir, safe);
}

export function prepareCodexHome(opts: {
  stateDir: string;
  sessionId: string;
  model?: string;
  config?: Record<string, unknown>;
  /** The worker's environment: where the user's own CODEX_HOME is. */
  env?: NodeJS.ProcessEnv;
}): CodexHome {
  const dir = codexSessionDir(opts.stateDir, opts.sessionId);
  const codexHome = path.join(dir, '.codex');
  mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(codexHome, 'config.toml'), codexConfigToml(opts.config, opts.model), { mode: 0o600 });
  copyUserAuth(codexHome, opts.env ?? process.env);
  return { dir, codexHome };
}

/** The user's auth.json ($CODEX_HOME, else ~/.codex), copied into the session's CODEX_HOME when newer. */
function copyUserAuth(codexHome: string, env: NodeJS.ProcessEnv): void {
  const userHome = env.CODEX_HOME || path.join(env.HOME || os.homedir(), '.codex');
  const source = path.join(userHome, 'auth.json');
  const target = path.join(codexHome, 'auth.json');
  if (path.resolve(source) === path.resolve(target) || !existsSync(source)) return;
  try {
    if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) return; // Codex refreshed ours since
    copyFileSync(source, target);
  } catch {
    // unreadable: Codex then says it is not logged in, which names the fix
  }
}

/**
 * config.toml for the session: Codex never asks for approval (a headless run has no one to ask; arguments.ts
 * also bypasses its sandbox, see there). coding.codex.config keys come next, each as `key = <TOML value>` (objects as
 * inline tables), and coding.codex.model last, so it wins over a `model` key there.
 */
export function codexConfigToml(config: Record<string, unknown> | undefined, model: string | undefined): string {
  const lines = ['# Written by station-coding before each run from coding.codex; edits here are overwritten.'];
  const entries = new Map<string, unknown>(Object.entries(config ?? {}));
  entries.set('approval_policy', 'never');
  if (model) entries.set('model', model);
  for (const [key, value] of entries) lines.push(`${tomlKey(key)} = ${tomlValue(value, `coding.codex.config.${key}`)}`);
  return `${lines.join('\n')}\n`;
}

function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** A JSON value as a one-line TOML value (JSON string escapes are valid TOML basic-string escapes). */
function tomlValue(value: unknown, field: string): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw invalid(field, 'is not a finite number');
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map((v, i) => tomlValue(v, `${field}[${i}]`)).join(', ')}]`;
  if (value && typeof value === 'object') {
    const parts = Object.entries(value).map(([k, v]) => `${tomlKey(k)} = ${tomlValue(v, `${field}.${k}`)}`);
    return `{ ${parts.join(', ')} }`;
  }
  throw invalid(field, `is ${value === null ? 'null' : typeof value}, which Codex's config.toml cannot hold`);
}

function invalid(field: string, problem: string): CodingError {
  return new CodingError(`${field} ${problem}: give it a string, number, boolean, list or table (or remove it from the worker config)`, 'invalid_input');
}
