// Walls around a coding agent process: bubblewrap (`bwrap`) runs it in its own PID namespace (the worker's and
// other sessions' processes, their /proc/<pid>/environ and memory, are not there), on a read-only view of the
// root filesystem in which the places that hold the worker's secrets (its HOME, config file, state directory,
// other workspaces, /tmp) are replaced by empty tmpfs, and only the rooms the agent needs are writable: its
// workspace and its own state. The network is shared: the model and local servers are reached as before.
//
// A Sandbox is decided once at worker start (probing bwrap) and then turns a command into the bwrap command
// that runs it. `none` runs the command as it is.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';

export const SANDBOX_MODES = ['auto', 'bwrap', 'none'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

/** What one agent process may use besides the read-only root. */
export interface Room {
  /** Writable inside, at the same path (the workspace, the agent's own HOME and state). Must exist. */
  writable: string[];
  /** Readable inside even where they lie in a hidden place (e.g. the agent binary's own directory). */
  readable?: string[];
  /**
   * Stores inside a writable room that other sessions share (claude's transcripts): `dir` is an empty tmpfs
   * inside, and only this agent's own part of it, `keep` (existing directories), is bound back, writable.
   */
  shared?: { dir: string; keep: string[] }[];
}

export interface Launch {
  file: string;
  args: string[];
  env: Record<string, string>;
}

export class SandboxUnavailable extends Error {
  override name = 'SandboxUnavailable';
}

export class Sandbox {
  private constructor(
    readonly kind: 'bwrap' | 'none',
    /** Absolute paths never shown to an agent (directories become empty, files /dev/null): the outermost ones. */
    private readonly hidden: string[],
    /** All of them, nested ones too: hidden again where they lie inside a room. */
    private readonly allHidden: string[],
    /** Why there is no sandbox (for `none`): said at worker start and by `doctor`. */
    readonly reason?: string,
  ) {}

  /** No walls: the agent runs as the worker's user, seeing what it sees. */
  static none(reason: string): Sandbox {
    return new Sandbox('none', [], [], reason);
  }

  /**
   * The sandbox of `mode`: `bwrap` must work here (else SandboxUnavailable), `auto` uses it when it works,
   * `none` never. `hidden`: the places an agent must not see.
   */
  static detect(mode: SandboxMode, hidden: string[], bwrap = 'bwrap'): Sandbox {
    if (mode === 'none') return Sandbox.none('coding.sandbox is none');
    const problem = probeBwrap(bwrap);
    if (!problem) return new Sandbox('bwrap', normalizeHidden(hidden), existing(hidden));
    if (mode === 'bwrap') {
      throw new SandboxUnavailable(
        `coding.sandbox is bwrap, but bubblewrap cannot run here (${problem}): install it (apt-get install bubblewrap) ` +
          'and allow unprivileged user namespaces (or run the worker as root), or set coding.sandbox to auto or none',
      );
    }
    return Sandbox.none(`bubblewrap is not usable here (${problem})`);
  }

  get walled(): boolean {
    return this.kind === 'bwrap';
  }

  /** One line for the worker's start and `doctor`. */
  describe(): string {
    if (this.walled) return `coding agents run under bubblewrap (own PID namespace, read-only root; hidden: ${this.hidden.join(', ')})`;
    return `coding agents run WITHOUT a sandbox (${this.reason}): they can read everything the worker's user can, including its environment, config file and git tokens`;
  }

  /** The command that runs `launch` inside the walls with `cwd` as working directory, able to use `room`. */
  wrap(launch: Launch, cwd: string, room: Room): Launch {
    if (!this.walled) return launch;
    const args = ['--die-with-parent', '--unshare-pid', '--unshare-ipc'];
    // Root inside keeps no capabilities: without them the agent cannot unmount the tmpfs over a hidden place.
    if (process.getuid?.() === 0) args.push('--cap-drop', 'ALL');
    args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc');
    for (const place of this.hidden) args.push(...hide(place));
    // A workspace cloned from the clone cache borrows its mirror's objects (objects/info/alternates): readable.
    const readable = [...(room.readable ?? []), ...room.writable.flatMap(borrowedObjects), ...this.binaryDirs(launch.file, launch.env.PATH)];
    for (const dir of unique(readable)) if (existsSync(dir)) args.push('--ro-bind', dir, dir);
    for (const dir of unique(room.writable)) args.push('--bind', dir, dir);
    for (const store of room.shared ?? []) args.push('--tmpfs', store.dir, ...unique(store.keep).flatMap((dir) => ['--bind', dir, dir]));
    // A hidden place inside a room (a config file in a workspace) stays hidden.
    const rooms = [...readable, ...room.writable];
    for (const place of this.allHidden) if (rooms.some((r) => inside(place, r) && place !== r)) args.push(...hide(place));
    args.push('--chdir', cwd, '--', launch.file, ...launch.args);
    return { file: 'bwrap', args, env: { ...launch.env, TMPDIR: '/tmp' } };
  }

  /** Whether an agent in this sandbox can reach `dir` through one of `rooms` (always, without walls). */
  reaches(dir: string, rooms: string[]): boolean {
    return !this.walled || rooms.some((room) => inside(path.resolve(dir), path.resolve(room)));
  }

  /** The real directory of the agent binary when it lies in a hidden place (installed under the worker's HOME). */
  private binaryDirs(file: string, searchPath: string | undefined): string[] {
    const candidates = file.includes('/') ? [file] : (searchPath ?? '').split(':').map((d) => path.join(d, file));
    const found = candidates.find((p) => existsSync(p));
    if (!found) return [];
    const dirs = [path.dirname(path.resolve(found))];
    try {
      dirs.push(path.dirname(realpathSync(found)));
    } catch {
      // a dangling link: bwrap will say it cannot run it
    }
    return dirs.filter((dir) => this.hidden.some((place) => inside(dir, place)));
  }
}

/**
 * When bwrap failed to start the agent binary itself, the error as a spawn error, so the runners' "binary
 * missing" message applies as without a sandbox.
 */
export function sandboxExecError(stderr: string): NodeJS.ErrnoException | undefined {
  const match = /^bwrap: execvp (.+?): (.+)$/m.exec(stderr);
  if (!match) return undefined;
  const error: NodeJS.ErrnoException = new Error(`${match[1]}: ${match[2]}`);
  error.code = /No such file/i.test(match[2]!) ? 'ENOENT' : /Permission denied/i.test(match[2]!) ? 'EACCES' : 'EEXEC';
  return error;
}

/** Why bwrap cannot build the walls here, or undefined when it can. */
function probeBwrap(bwrap: string): string | undefined {
  const probe = spawnSync(bwrap, ['--die-with-parent', '--unshare-pid', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--', 'true'], {
    encoding: 'utf8',
    timeout: 10_000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (probe.error) return (probe.error as NodeJS.ErrnoException).code === 'ENOENT' ? `${bwrap} not found` : probe.error.message;
  if (probe.status !== 0) return (probe.stderr || `exit ${probe.status ?? probe.signal}`).trim().split('\n')[0];
  return undefined;
}

function hide(place: string): string[] {
  return isDirectory(place) ? ['--tmpfs', place] : ['--ro-bind', '/dev/null', place];
}

/** Existing absolute paths, parents first, without those inside another hidden directory. */
function normalizeHidden(places: string[]): string[] {
  const sorted = existing(places).sort((a, b) => a.length - b.length);
  const kept: string[] = [];
  for (const place of sorted) if (!kept.some((k) => inside(place, k))) kept.push(place);
  return kept;
}

function existing(places: string[]): string[] {
  return unique(places.filter((p) => p && path.isAbsolute(p))).filter((p) => p !== '/' && existsSync(p));
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function inside(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

function unique(items: string[]): string[] {
  return [...new Set(items.map((p) => path.resolve(p)))];
}

/** The object directories a repository at `dir` borrows from (git's alternates file), absolute paths only. */
function borrowedObjects(dir: string): string[] {
  try {
    return readFileSync(path.join(dir, '.git', 'objects', 'info', 'alternates'), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => path.isAbsolute(line));
  } catch {
    return [];
  }
}
