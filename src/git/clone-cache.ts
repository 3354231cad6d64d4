// A per-host cache of the repositories sessions are opened on: one bare mirror per repository URL, made by
// `git clone --mirror` the first time and fetched on every later open; a session is then cloned from the mirror
// with `--shared` (a local clone that borrows the mirror's objects, `objects/info/alternates`) and its origin set
// to the repository URL, so an open downloads only what the fetch brings and copies no object.
//
// Why --shared and not --dissociate: a dissociated clone copies every object, as much disk as a plain clone;
// a sharing one costs only its working tree and its own new objects. The price is that a workspace needs its
// mirror as long as it lives, so mirrors are never garbage collected (gc.auto 0: nothing a workspace uses is ever
// pruned) and cleanup skips a mirror any workspace still references.
//
// The token is handled exactly as for a plain clone (credentials.ts): an HTTP header in the environment of the one
// git process that talks to the remote, only to the repository's own host. The mirror's config holds the clean URL.
//
// Safe under concurrency: opens of one repository in this process share fetches (each open waits for a fetch that
// started after it asked, so it sees what was pushed before it; many opens arriving during one fetch share the
// next); across processes a lock file (O_EXCL, holding the pid; a dead holder's lock is taken over) serializes
// mirror creation and fetches.
import { createHash } from 'node:crypto';
import { open, readdir, readFile, rename, rm, stat, utimes, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Runs git in a directory with the token's environment for the repository (the workspace's authenticated git). */
export type AuthedGit = (cwd: string, args: string[], signal: AbortSignal) => Promise<string>;

const LOCK_RETRY_MS = 20;
const DAY_MS = 86_400_000;

export class CloneCache {
  /** Per mirror: the fetch under way in this process, and the one queued after it (shared by all who wait for it). */
  private readonly fetches = new Map<string, { current: Promise<void>; next?: Promise<void> }>();

  constructor(readonly dir: string) {}

  /** The mirror of `url` (a path), fetched after this call began; undefined when the URL is not one to cache. */
  async mirrorFor(url: string, git: AuthedGit, signal: AbortSignal): Promise<string | undefined> {
    if (!/^(https?|ssh|git|file):\/\//i.test(url) && !/^[^/:]+@[^/:]+:/.test(url)) return undefined;
    const path = this.mirrorPath(url);
    await this.freshFetch(path, () => this.update(url, path, git, signal));
    return path;
  }

  /** A fetch that starts now, or the one queued behind the fetch under way (which began too early to count). */
  private freshFetch(path: string, fetch: () => Promise<void>): Promise<void> {
    const entry = this.fetches.get(path);
    if (!entry) {
      const current = fetch().finally(() => this.advance(path));
      this.fetches.set(path, { current });
      return current;
    }
    entry.next ??= entry.current.catch(() => {}).then(fetch);
    return entry.next;
  }

  private advance(path: string): void {
    const entry = this.fetches.get(path);
    if (!entry?.next) return void this.fetches.delete(path);
    const current = entry.next.finally(() => this.advance(path));
    current.catch(() => {}); // its waiters see the failure through `next`
    this.fetches.set(path, { current });
  }

  /** One directory per URL (hash of it: a URL may hold characters a file name cannot). */
  mirrorPath(url: string): string {
    return join(this.dir, `${createHash('sha256').update(url).digest('hex').slice(0, 24)}.git`);
  }

  private async update(url: string, path: string, git: AuthedGit, signal: AbortSignal): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const release = await this.lock(`${path}.lock`, signal);
    try {
      if (await exists(join(path, 'HEAD'))) {
        await git(path, ['fetch', '--quiet', '--no-write-fetch-head', 'origin'], signal);
      } else {
        // Cloned aside and renamed into place: a half-made mirror (worker killed mid-clone) is never used.
        const partial = `${path}.partial`;
        await rm(partial, { recursive: true, force: true });
        await git(this.dir, ['clone', '--mirror', '--quiet', '--no-local', '--', url, partial], signal);
        await git(partial, ['config', 'gc.auto', '0'], signal);
        await rename(partial, path);
      }
      const now = new Date();
      await utimes(path, now, now); // "last used", for cleanup
    } finally {
      await release();
    }
  }

  /** An O_EXCL lock file with our pid in it; one left by a process that is gone is taken over. */
  private async lock(file: string, signal: AbortSignal): Promise<() => Promise<void>> {
    for (;;) {
      signal.throwIfAborted();
      try {
        const handle = await open(file, 'wx');
        await handle.writeFile(String(process.pid));
        await handle.close();
        return () => rm(file, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const holder = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      // An empty file is a lock being written right now; a pid that is not alive left it behind.
      if (holder > 0 && !alive(holder)) await rm(file, { force: true });
      else await sleep(LOCK_RETRY_MS, undefined, { signal });
    }
  }

  /**
   * Remove mirrors not used for `days` days that no workspace under `workspaceBase` references. Run at worker start;
   * returns the paths removed.
   */
  async removeUnused(days: number, workspaceBase: string): Promise<string[]> {
    const entries = await readdir(this.dir).catch(() => [] as string[]);
    const referenced = await referencedMirrors(workspaceBase);
    const removed: string[] = [];
    for (const name of entries) {
      if (!name.endsWith('.git')) continue;
      const path = join(this.dir, name);
      const info = await stat(path).catch(() => undefined);
      if (!info || Date.now() - info.mtimeMs < days * DAY_MS || referenced.has(path)) continue;
      const release = await this.lock(`${path}.lock`, AbortSignal.timeout(60_000));
      try {
        await rm(path, { recursive: true, force: true });
        removed.push(path);
      } finally {
        await release();
      }
    }
    return removed;
  }
}

/** The mirrors the workspaces under `base` borrow objects from (their .git/objects/info/alternates). */
async function referencedMirrors(base: string): Promise<Set<string>> {
  const found = new Set<string>();
  for (const name of await readdir(base).catch(() => [] as string[])) {
    const text = await readFile(join(base, name, '.git', 'objects', 'info', 'alternates'), 'utf8').catch(() => '');
    for (const line of text.split('\n')) if (line.trim()) found.add(line.trim().replace(/\/objects\/?$/, ''));
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
