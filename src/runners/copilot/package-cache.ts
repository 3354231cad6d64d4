// The Copilot CLI's npm binary is a single executable that unpacks its program (about 235 MB) into a package cache
// the first time it runs. Under a HOME per session that would be 235 MB and a few seconds per session, so the
// worker unpacks it once, outside the sandbox, into a directory the agents may read but not write
// (`COPILOT_SEA_EXTRACT_ONLY=1` unpacks and exits; `COPILOT_PKG_CACHE_HOME` says where).
//
// Its embedded node keeps compiled code in a compile cache (NODE_COMPILE_CACHE, else /tmp/node-compile-cache);
// inside the walls /tmp is empty on every run, which cost about 250 ms a task (measured: 519 ms against 789 ms for
// `copilot help environment`). The worker fills a compile cache once here, by a run that loads the program, and each
// session starts from a copy of it in its own HOME (environment.ts), writable by that session only: a cache shared
// writable between sessions would let one session's agent plant code another session's agent runs.
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { baseChildEnv, runProcess } from '../../process/spawn.js';

const ready = new Map<string, Promise<void>>();

/** Unpack the CLI of `binary` into `dir` unless it is there already (once per worker process and directory). */
export function ensurePackageCache(binary: string, dir: string): Promise<void> {
  const key = `${binary}\0${dir}`;
  let pending = ready.get(key);
  if (!pending) {
    pending = unpack(binary, dir);
    ready.set(key, pending);
    pending.catch(() => ready.delete(key)); // a failed unpack is tried again by the next task
  }
  return pending;
}

/** The compile cache the worker filled (copied into each session's HOME). */
export const compileCacheOf = (dir: string) => path.join(dir, 'compile-cache');

async function unpack(binary: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const run = (args: string[], env: Record<string, string>) =>
    runProcess({ file: binary, args, cwd: dir, env: baseChildEnv({ COPILOT_PKG_CACHE_HOME: dir, HOME: path.join(dir, 'unpacking-home'), ...env }), timeoutMs: 300_000, signal: new AbortController().signal, onLine: () => {} });
  // A missing binary is reported by the task's own run, with the install hint.
  if (!unpacked(dir)) await run([], { COPILOT_SEA_EXTRACT_ONLY: '1' });
  if (!existsSync(compileCacheOf(dir))) {
    const filling = `${compileCacheOf(dir)}.${process.pid}`;
    await run(['help', 'environment'], { NODE_COMPILE_CACHE: filling, COPILOT_OFFLINE: 'true', COPILOT_AUTO_UPDATE: 'false' });
    if (existsSync(filling)) renameSync(filling, compileCacheOf(dir));
  }
}

function unpacked(dir: string): boolean {
  const platformDirs = path.join(dir, 'pkg');
  if (!existsSync(platformDirs)) return false;
  return readdirSync(platformDirs).some((platform) => {
    try {
      return readdirSync(path.join(platformDirs, platform)).some((version) => existsSync(path.join(platformDirs, platform, version, 'index.js')));
    } catch {
      return false;
    }
  });
}
