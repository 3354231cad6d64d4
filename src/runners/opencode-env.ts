// The isolated environment of an OpenCode child (`opencode run` or `opencode serve`), shared by both
// OpenCode runners: its own HOME and XDG config/data/cache/state directories under `state_dir`, none of
// the worker's secrets (baseChildEnv), everything that phones home switched off, npm pointed at a dead
// loopback port (OpenCode tries to install its plugin package on start), and the whole OpenCode
// configuration (providers, model, permissions) passed in OPENCODE_CONFIG_CONTENT.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { baseChildEnv, truncate } from '../process/process.js';
import type { Tokens, ToolCall } from '../contract.js';
import { CodingError } from '../backends/errors.js';

export interface OpenCodeModelSettings {
  /** provider/model, e.g. "fake/m" or "anthropic/claude-sonnet-4" */
  model?: string;
  /** extra OpenCode config merged into OPENCODE_CONFIG_CONTENT (providers, etc.) */
  config?: Record<string, unknown>;
  /** extra environment for the child (provider API keys) */
  env?: Record<string, string>;
  /** base dir for the isolated home/config/data/cache dirs */
  state_dir: string;
}

/** The opencode binary of the installed opencode-ai package, else plain "opencode" (found on PATH). */
export function defaultOpenCodeBinary(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('opencode-ai/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.opencode;
    if (bin) {
      const full = path.resolve(path.dirname(pkgPath), bin);
      if (existsSync(full)) return full;
    }
  } catch {
    // not installed as a dependency
  }
  return 'opencode';
}

/** The smaller of the task's timeout and the configured timeout in seconds (either may be unset or 0). */
export function effectiveTimeoutMs(taskTimeoutMs: number, timeoutSec: number): number {
  const candidates = [taskTimeoutMs, timeoutSec * 1000].filter((n) => Number.isFinite(n) && n > 0);
  return candidates.length ? Math.min(...candidates) : 30 * 60 * 1000;
}

/**
 * The binary to run for `configured` (a path, or a name looked up on PATH). The bare name "opencode"
 * that is not on PATH falls back to the binary of the installed opencode-ai package.
 */
export function resolveOpenCodeBinary(configured: string | undefined): string {
  const name = configured?.trim() || 'opencode';
  if (name.includes('/')) return name;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return name;
  }
  return name === 'opencode' ? defaultOpenCodeBinary() : name;
}

export interface OpenCodeModelRef {
  providerID: string;
  modelID: string;
}

/** Split "provider/model" (the model id may itself contain slashes: "openrouter/anthropic/claude"). */
export function parseModel(model: string): OpenCodeModelRef {
  const slash = model.indexOf('/');
  if (slash <= 0 || slash === model.length - 1) {
    throw new CodingError(
      `invalid OpenCode model '${model}': expected provider/model, e.g. anthropic/claude-sonnet-4`,
      'invalid_input',
    );
  }
  return { providerID: model.slice(0, slash), modelID: model.slice(slash + 1) };
}

/** The settings every OpenCode child runs with: non-interactive permissions, nothing shared or updated. */
export function baseOpenCodeConfig(): Record<string, unknown> {
  return {
    autoupdate: false,
    share: 'disabled',
    // Edits and commands must not wait for (or be auto-rejected by) an approval nobody can give;
    // fetching from the web is not part of a coding task here.
    permission: { edit: 'allow', bash: 'allow', webfetch: 'deny' },
  };
}

/** OPENCODE_CONFIG_CONTENT for these settings: the base config, the model, then settings.config on top. */
export function openCodeConfig(settings: OpenCodeModelSettings): Record<string, unknown> {
  const config: Record<string, unknown> = baseOpenCodeConfig();
  if (settings.model) config.model = settings.model;
  return deepMerge(config, settings.config ?? {});
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Merge `over` into `base` (objects recursively; arrays and scalars replaced). Returns a new object. */
export function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Flags that keep OpenCode quiet and local (checked against opencode 1.18.33). */
export const OPENCODE_QUIET_ENV: Record<string, string> = {
  OPENCODE_DISABLE_MODELS_FETCH: '1',
  OPENCODE_DISABLE_AUTOUPDATE: '1',
  OPENCODE_DISABLE_SHARE: '1',
  OPENCODE_DISABLE_LSP_DOWNLOAD: '1',
  OPENCODE_DISABLE_DEFAULT_PLUGINS: '1',
  OPENCODE_DISABLE_CLAUDE_CODE: '1',
  OPENCODE_DISABLE_EXTERNAL_SKILLS: '1',
  OPENCODE_DISABLE_TERMINAL_TITLE: '1',
  // OpenCode installs its plugin package with npm/bun on start: keep that on a dead loopback port.
  npm_config_registry: 'http://127.0.0.1:9/',
  NPM_CONFIG_REGISTRY: 'http://127.0.0.1:9/',
  BUN_CONFIG_REGISTRY: 'http://127.0.0.1:9/',
  npm_config_update_notifier: 'false',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
};

export interface OpenCodeEnvironment {
  /** The instance directory (holds home/, config/, data/, cache/, state/). */
  dir: string;
  env: Record<string, string>;
}

/** A directory name for `key` (a session id, "server", ...): safe characters only. */
export function instanceDirName(key: string): string {
  const safe = key.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  return safe.slice(0, 120) || 'default';
}

/**
 * Create (if needed) the isolated directories of one OpenCode instance under settings.state_dir and
 * return the child environment. The same key gives the same directories, so OpenCode finds its sessions
 * again on a later run (resume, also after a worker restart).
 */
export async function prepareOpenCodeEnv(
  settings: OpenCodeModelSettings,
  key: string,
  extra: Record<string, string | undefined> = {},
): Promise<OpenCodeEnvironment> {
  if (!settings.state_dir) throw new CodingError('OpenCode settings: state_dir is required', 'invalid_input');
  const dir = path.resolve(settings.state_dir, instanceDirName(key));
  const dirs = {
    HOME: path.join(dir, 'home'),
    XDG_CONFIG_HOME: path.join(dir, 'config'),
    XDG_DATA_HOME: path.join(dir, 'data'),
    XDG_CACHE_HOME: path.join(dir, 'cache'),
    XDG_STATE_HOME: path.join(dir, 'state'),
  };
  await Promise.all(Object.values(dirs).map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
  const env = baseChildEnv({
    ...dirs,
    ...OPENCODE_QUIET_ENV,
    npm_config_cache: path.join(dirs.XDG_CACHE_HOME, 'npm'),
    OPENCODE_CONFIG_CONTENT: JSON.stringify(openCodeConfig(settings)),
    ...settings.env,
    ...extra,
  });
  return { dir, env };
}

// ---- shared by both runners: turning OpenCode's parts and errors into our result shapes ----

/** Token counts as OpenCode records them on step-finish parts and assistant messages. */
export interface OpenCodeTokenInfo {
  input?: number;
  output?: number;
  reasoning?: number;
  cache?: { read?: number; write?: number };
}

const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

/** Add one step's (or message's) OpenCode token counts to `sum`; OpenCode counts reasoning apart from output, as the contract does. */
export function addOpenCodeTokens(sum: Tokens, tokens: OpenCodeTokenInfo | undefined): void {
  if (!tokens) return;
  sum.input += count(tokens.input);
  sum.output += count(tokens.output);
  sum.reasoning += count(tokens.reasoning);
  sum.cache_read += count(tokens.cache?.read);
  sum.cache_write += count(tokens.cache?.write);
}

export const MAX_TOOL_OUTPUT = 8_000;
const MAX_INPUT_STRING = 4_000;

/** The tool input for the result: long strings (file contents) cut down. */
export function compactInput(input: unknown): unknown {
  if (typeof input === 'string') return truncate(input, MAX_INPUT_STRING);
  if (Array.isArray(input)) return input.map(compactInput);
  if (input && typeof input === 'object') {
    return Object.fromEntries(Object.entries(input as Record<string, unknown>).map(([k, v]) => [k, compactInput(v)]));
  }
  return input;
}

/** A tool part's state (both the CLI's tool_use events and the server's tool parts carry one). */
export interface OpenCodeToolState {
  status?: string;
  input?: unknown;
  output?: string;
  error?: string;
  title?: string;
}

/** The ToolCall of a finished (completed or failed) tool part; undefined while it is still running. */
export function toolCallOf(tool: string, state: OpenCodeToolState | undefined): ToolCall | undefined {
  if (!state || (state.status !== 'completed' && state.status !== 'error')) return undefined;
  const call: ToolCall = { tool, input: compactInput(state.input ?? {}) };
  if (state.status === 'completed') call.output = truncate(String(state.output ?? ''), MAX_TOOL_OUTPUT);
  else call.error = truncate(String(state.error ?? 'tool failed'), MAX_TOOL_OUTPUT);
  return call;
}

/** One line describing a tool call for progress: "bash: ls -la", "write: /ws/a.txt". */
export function describeToolCall(tool: string, state: OpenCodeToolState | undefined): string {
  const input = (state?.input ?? {}) as Record<string, unknown>;
  const main =
    input.command ?? input.filePath ?? input.path ?? input.pattern ?? input.url ?? input.description ?? state?.title;
  const text = typeof main === 'string' && main ? main : JSON.stringify(input);
  return truncate(`${tool}: ${text}`, 300);
}

/** Progress for a finished tool part: its result (or error), shortened. */
export function describeToolResult(tool: string, state: OpenCodeToolState | undefined): string {
  if (state?.status === 'error') return truncate(`${tool} failed: ${state.error ?? ''}`, 500);
  return truncate(String(state?.output ?? ''), 500);
}

/** An OpenCode error object ({name, data:{message, statusCode, isRetryable, ...}}). */
export interface OpenCodeError {
  name?: string;
  data?: { message?: string; statusCode?: number; isRetryable?: boolean; providerID?: string; [k: string]: unknown };
  message?: string;
}

export function openCodeErrorMessage(error: OpenCodeError | undefined): string {
  if (!error) return 'unknown OpenCode error';
  const message = error.data?.message ?? error.message ?? error.name ?? 'unknown OpenCode error';
  const status = error.data?.statusCode;
  return status ? `${message} (HTTP ${status})` : String(message);
}

/** Errors of the model provider (auth, 4xx, exhausted retries): retrying the task cannot help. */
export function isProviderError(error: OpenCodeError | undefined): boolean {
  return error?.name === 'ProviderAuthError' || error?.name === 'APIError';
}

export function isAbortError(error: OpenCodeError | undefined): boolean {
  return error?.name === 'MessageAbortedError' || error?.name === 'AbortError';
}

/** The CodingError for a provider error: not retryable, the provider's own message first. */
export function providerError(error: OpenCodeError): CodingError {
  return new CodingError(`model provider error: ${openCodeErrorMessage(error)}`, 'provider', false);
}
