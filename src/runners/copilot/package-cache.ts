// The Copilot CLI's npm binary is a single executable that unpacks its program (about 235 MB) into a package cache
// the first time it runs. Under a HOME per session that would be 235 MB and a few seconds per session, so the
// worker unpacks it once, outside the sandbox, into a directory the agents may read but not write
// (`COPILOT_SEA_EXTRACT_ONLY=1` unpacks and exits; `COPILOT_PKG_CACHE_HOME` says where).
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
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

async function unpack(binary: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  if (unpacked(dir)) return;
  // A missing binary is reported by the task's own run, with the install hint.
  await runProcess({ file: binary, args: [], cwd: dir, env: baseChildEnv({ COPILOT_SEA_EXTRACT_ONLY: '1', COPILOT_PKG_CACHE_HOME: dir }), timeoutMs: 300_000, signal: new AbortController().signal, onLine: () => {} });
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
