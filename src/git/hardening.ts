// The worker's own git never runs code that came with a repository. A workspace's .git/config and its
// .gitattributes are data the agent (or whoever made the repository) can write: hooks, core.fsmonitor, filter
// and diff drivers, credential helpers and ssh commands named there would otherwise run in the worker, next to
// its tokens. Every git command of the worker therefore runs with `-c` overrides (which outrank .git/config),
// a clean global config, no system config, no agent sockets, and a timeout.
import { simpleGit, type SimpleGit } from 'simple-git';
import { baseChildEnv } from '../process/spawn.js';

/**
 * Where hooks are looked for: a path that can never hold a hook. (/dev/null is not a directory, so git finds
 * no hook there, and nobody can create one in it.)
 */
export const NO_HOOKS = '/dev/null';

/** Overrides every worker git command gets, whatever the repository says. */
const FIXED: Array<[string, string]> = [
  ['core.hooksPath', NO_HOOKS],
  ['core.fsmonitor', 'false'],
  // An empty value empties the list of helpers (none from the repository or the user runs).
  ['credential.helper', ''],
  ['core.askPass', ''],
  // Plain ssh: an sshCommand planted in .git/config would run a program of the repository's choosing.
  ['core.sshCommand', 'ssh'],
  ['core.pager', 'cat'],
  ['commit.gpgSign', 'false'],
  ['tag.gpgSign', 'false'],
  ['protocol.ext.allow', 'never'],
];

/**
 * Keys of a repository's config that name a program for a named driver (filter "lfs", diff "foo", ...). Each one
 * found is overridden with an empty value, which git treats as "no program"; a required filter is made optional
 * so that the command still works (the file is then stored as it is).
 */
const DRIVER_KEY = /^(filter\..+\.(clean|smudge|process)|diff\..+\.(textconv|command)|merge\..+\.driver)$/i;

/**
 * The `-c key=value` settings for a worker git command in a repository whose effective config has the keys
 * `configKeys` (from `git config --name-only --list`).
 */
export function hardenedConfig(configKeys: string[]): string[] {
  const settings = FIXED.map(([key, value]) => `${key}=${value}`);
  const drivers = new Set(configKeys.map((k) => k.trim()).filter((k) => DRIVER_KEY.test(k)));
  for (const key of drivers) {
    settings.push(`${key}=`);
    if (/^filter\./i.test(key)) settings.push(`${key.replace(/\.[^.]+$/, '')}.required=false`);
  }
  return settings;
}

/** A config file that is always empty: the worker's git never reads the user's ~/.gitconfig. */
export const EMPTY_GLOBAL_CONFIG = '/dev/null';

/**
 * The environment of every worker git command: only the basics, a clean global config, no system config, never
 * a prompt. SSH_AUTH_SOCK, GPG_AGENT_INFO and the like are left out on purpose, so no agent key can be used by
 * a command the repository influences.
 */
export function hardenedGitEnv(extra: Record<string, string> = {}): Record<string, string> {
  return baseChildEnv({
    HOME: process.env.HOME,
    GIT_CONFIG_GLOBAL: EMPTY_GLOBAL_CONFIG,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_ATTR_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    ...extra,
  });
}

/** The simple-git `unsafe` switches our own overrides need (each one only ever turns a program off). */
const HARDENED_UNSAFE = {
  allowUnsafeConfigEnvCount: true,
  allowUnsafeConfigPaths: true,
  allowUnsafeCredentialHelper: true,
  allowUnsafeHooksPath: true,
  allowUnsafeFsMonitor: true,
  allowUnsafeAskPass: true,
  allowUnsafeSshCommand: true,
  allowUnsafePager: true,
  allowUnsafeFilter: true,
  allowUnsafeDiffTextConv: true,
  allowUnsafeDiffExternal: true,
  allowUnsafeMergeDriver: true,
  allowUnsafeProtocolOverride: true,
} as const;

/**
 * A simple-git for one operation in `baseDir`: hardened config and environment, `extraEnv` on top (author,
 * index file, the token header of credentials.ts), cancelled by `signal`, and killed when git stays silent for
 * `timeoutSec`. It first lists the repository's config keys (reading config runs nothing) to override its drivers.
 */
export async function hardenedGit(baseDir: string, signal: AbortSignal, timeoutSec: number, extraEnv: Record<string, string> = {}): Promise<SimpleGit> {
  const make = (configKeys: string[]) => {
    const env = hardenedGitEnv(extraEnv);
    return simpleGit({
      baseDir,
      abort: signal,
      timeout: { block: timeoutSec * 1000 },
      config: hardenedConfig(configKeys),
      // Every variable here is set by us on purpose; simple-git's guard is for variables inherited by accident.
      allowEnvironment: Object.keys(env),
      unsafe: HARDENED_UNSAFE,
    }).env(env);
  };
  const keys = await make([])
    .raw(['config', '--name-only', '--list'])
    .catch(() => '');
  return make(keys.split('\n'));
}
