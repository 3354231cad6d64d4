// The worker's own git never runs code that came with a repository. A workspace's .git/config and its
// .gitattributes are data the agent (or whoever made the repository) can write: hooks, core.fsmonitor, filter
// and diff drivers, credential helpers and ssh commands named there would otherwise run in the worker, next to
// its tokens. Every git command of the worker therefore runs with `-c` overrides (which outrank .git/config),
// a clean global config, no system config, no agent sockets, and a timeout.
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { GitProcess } from './git-process.js';
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
    // git's messages in English whatever the worker's locale: git-failure.ts reads them, and stats are parsed.
    LC_ALL: 'C',
    ...extra,
  });
}

/**
 * The repository's config keys, remembered per repository until one of the files they came from changes (an
 * include the agent adds changes .git/config; a change to an included file changes that file): listing them is
 * a git process, which would otherwise run before every command.
 */
const keysSeen = new Map<string, { files: string[]; stamp: string; keys: string[] }>();

async function stampOf(files: string[]): Promise<string> {
  const stats = await Promise.all(files.map((f) => stat(f).then((s) => `${f}:${s.mtimeMs}:${s.size}:${s.ino}`, () => `${f}:-`)));
  return stats.join('|');
}

/** `git config --name-only --show-origin --list` in `baseDir` (reading config runs nothing), remembered. */
async function configKeys(baseDir: string, signal: AbortSignal): Promise<string[]> {
  const cached = keysSeen.get(baseDir);
  if (cached && (await stampOf(cached.files)) === cached.stamp) return cached.keys;
  const listed = await new GitProcess(baseDir, hardenedGitEnv(), signal, { config: hardenedConfig([]) })
    .raw(['config', '--name-only', '--show-origin', '--list'])
    .catch(() => '');
  const keys: string[] = [];
  const files = new Set<string>([join(baseDir, '.git', 'config')]);
  for (const line of listed.split('\n')) {
    const tab = line.indexOf('\t');
    if (tab < 0) continue;
    const origin = line.slice(0, tab);
    if (origin.startsWith('file:')) files.add(resolve(baseDir, origin.slice(5)));
    keys.push(line.slice(tab + 1));
  }
  keysSeen.set(baseDir, { files: [...files], stamp: await stampOf([...files]), keys });
  if (keysSeen.size > 1000) keysSeen.delete(keysSeen.keys().next().value!);
  return keys;
}

/**
 * The worker itself just made the repository in `baseDir` (init, clone) or changed its config with git: the config
 * holds only what git and the worker wrote, none of the drivers hardenedConfig overrides. Remembered as it is now,
 * so the next command does not list it again (a later change by anyone else changes the stamp).
 */
export async function rememberWorkerConfig(baseDir: string): Promise<void> {
  const cached = keysSeen.get(baseDir);
  const files = cached?.files ?? [join(baseDir, '.git', 'config')];
  keysSeen.set(baseDir, { files, stamp: await stampOf(files), keys: cached?.keys ?? [] });
}

/**
 * A git that creates a repository (init, clone): it reads no repository's config, so there is nothing to list;
 * otherwise the same as hardenedGit.
 */
export function hardenedGitForNewRepository(baseDir: string, signal: AbortSignal, timeoutSec: number, extraEnv: Record<string, string> = {}): GitProcess {
  return new GitProcess(baseDir, hardenedGitEnv(extraEnv), signal, { config: hardenedConfig([]), silenceMs: timeoutSec * 1000 });
}

/**
 * A git for one operation in `baseDir`: hardened config and environment, `extraEnv` on top (author, index file,
 * the token header of credentials.ts), cancelled by `signal`, and killed when git stays silent for `timeoutSec`.
 * The repository's own drivers are found from its config keys and overridden.
 */
export async function hardenedGit(baseDir: string, signal: AbortSignal, timeoutSec: number, extraEnv: Record<string, string> = {}): Promise<GitProcess> {
  const keys = await configKeys(baseDir, signal);
  return new GitProcess(baseDir, hardenedGitEnv(extraEnv), signal, { config: hardenedConfig(keys), silenceMs: timeoutSec * 1000 });
}

/** One hardened git command in `cwd`, its output trimmed: for the worker's own bookkeeping (checkpoints, saves). */
export async function runHardenedGit(cwd: string, args: string[], env: Record<string, string> = {}, timeoutSec = 120): Promise<string> {
  const signal = AbortSignal.timeout(timeoutSec * 1000);
  return (await (await hardenedGit(cwd, signal, timeoutSec, env)).raw(args)).trim();
}
