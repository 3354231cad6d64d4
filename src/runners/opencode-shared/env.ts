// The isolated environment of an OpenCode child (`opencode run` or `opencode serve`), shared by both
// OpenCode runners: its own HOME and XDG config/data/cache/state directories under `state_dir`, none of
// the worker's secrets (baseChildEnv), everything that phones home switched off, npm pointed at a dead
// loopback port (OpenCode tries to install its plugin package on start), and the configuration of config.ts.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { CodingError } from '../../core/errors.js';
import { baseChildEnv } from '../../process/spawn.js';
import { openCodeConfig, type OpenCodeModelSettings } from './config.js';

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
