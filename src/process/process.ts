// Running a coding agent's CLI: minimal environment, its own process group, stdout read line by line,
// and on timeout or cancel the whole process tree is killed (the agent's own children too).
//
// A process-group kill alone is not enough: agents start their tools in new sessions (Claude Code's Bash
// tool runs `bash -c` under setsid), and those survive a signal to the agent's group, orphaned. So the
// tree is also walked through /proc (Linux) and every descendant and its group is signalled. What the agent
// forked while it was being killed is no longer its descendant once it is gone, so the workspace is swept too:
// every process whose working directory is inside it.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { execa } from 'execa';

/** The environment every backend child starts from: nothing of the worker's secrets. */
export function baseChildEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const keep = ['PATH', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL'];
  const env: Record<string, string> = { TERM: 'dumb', NO_COLOR: '1' };
  for (const key of keep) {
    const value = process.env[key];
    if (value !== undefined) env[key] = value;
  }
  for (const [key, value] of Object.entries(extra)) {
    if (value !== undefined) env[key] = value;
  }
  return env;
}

export interface ProcessSpec {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  stdin?: string;
  timeoutMs: number;
  signal: AbortSignal;
  onLine: (line: string) => void;
  /** Time between SIGTERM and SIGKILL of the process group. */
  killGraceMs?: number;
}

export interface ProcessOutcome {
  exitCode: number | undefined;
  signal: string | undefined;
  timedOut: boolean;
  cancelled: boolean;
  /** The last few KiB of stderr, for error messages. */
  stderrTail: string;
  /** Set when the binary could not be started at all (ENOENT, EACCES). */
  spawnError?: NodeJS.ErrnoException;
}

const STDERR_TAIL = 4096;
/** The longest stdout line kept: a runaway line (a huge tool output) is skipped instead of filling memory. */
export const MAX_LINE_CHARS = 16 * 1024 * 1024;

/** Splits a stream into trimmed, non-empty lines, holding at most MAX_LINE_CHARS of an unfinished line. */
export class LineSplitter {
  private pending = '';
  private skipping = false;

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    let start = 0;
    for (let newline = chunk.indexOf('\n'); newline >= 0; newline = chunk.indexOf('\n', start)) {
      const piece = chunk.slice(start, newline);
      if (!this.skipping) this.emit(this.pending + piece);
      this.pending = '';
      this.skipping = false;
      start = newline + 1;
    }
    if (this.skipping) return;
    this.pending += chunk.slice(start);
    if (this.pending.length > MAX_LINE_CHARS) {
      this.pending = '';
      this.skipping = true; // the rest of this line is dropped too
    }
  }

  end(): void {
    if (!this.skipping) this.emit(this.pending);
    this.pending = '';
  }

  private emit(line: string): void {
    const trimmed = line.trim();
    if (trimmed) this.onLine(trimmed);
  }
}

export async function runProcess(spec: ProcessSpec): Promise<ProcessOutcome> {
  let timedOut = false;
  let cancelled = false;
  let stderrTail = '';
  const child = execa(spec.file, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    extendEnv: false,
    input: spec.stdin ?? '',
    detached: true, // own process group, so the whole tree can be killed
    reject: false,
    buffer: false,
    stripFinalNewline: false,
    encoding: 'utf8',
  });

  const agentStart = child.pid === undefined ? undefined : procStat(child.pid)?.start;
  let killing = false;
  const killTree = () => {
    const pid = child.pid;
    if (pid === undefined || killing) return;
    killing = true;
    // Remember the descendants now: once the agent is gone, its orphans can no longer be found from it.
    const tree = descendantsOf(pid);
    signalGroup(pid, 'SIGTERM');
    signalProcesses(tree, 'SIGTERM');
    const finish = (agentAlive: boolean) => {
      // Look again for what was started since, but only while the pid is still our child (not reused).
      if (agentAlive) for (const [p, info] of descendantsOf(pid)) tree.set(p, info);
      signalGroup(pid, 'SIGKILL');
      signalProcesses(tree, 'SIGKILL');
    };
    const grace = setTimeout(() => finish(true), spec.killGraceMs ?? 3000);
    grace.unref();
    void child.finally(() => {
      clearTimeout(grace);
      // The group leader is gone; make sure nothing it started survives it.
      finish(false);
      // Only what started with or after the agent: a user's own shell in a given workspace_path is left alone.
      // Swept now, before the task returns: later, the session's next task could already be running there.
      killProcessesIn(spec.cwd, agentStart);
    });
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killTree();
  }, spec.timeoutMs);
  const onAbort = () => {
    cancelled = true;
    killTree();
  };
  if (spec.signal.aborted) onAbort();
  else spec.signal.addEventListener('abort', onAbort, { once: true });

  const lines = new LineSplitter(spec.onLine);
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => lines.push(chunk));
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL);
  });

  try {
    const result = await child;
    lines.end();
    const spawnError =
      result.failed && result.exitCode === undefined && !result.signal
        ? (result.cause as NodeJS.ErrnoException | undefined)
        : undefined;
    return {
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut,
      cancelled,
      stderrTail,
      spawnError,
    };
  } finally {
    clearTimeout(timer);
    spec.signal.removeEventListener('abort', onAbort);
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

interface ProcInfo {
  pgid: number;
  /** Start time (clock ticks since boot): tells a remembered pid from a reused one. */
  start: string;
}

/** The pids /proc lists now, or undefined where there is no /proc (not Linux). */
function livePids(): number[] | undefined {
  try {
    return readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number);
  } catch {
    return undefined;
  }
}

/** One process's parent, group and start time from /proc/<pid>/stat, or undefined. */
function procStat(pid: number): (ProcInfo & { ppid: number }) | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), pgid: Number(fields[2]), start: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** Every live descendant of `root` (not root itself), walking /proc. Empty where there is no /proc. */
function descendantsOf(root: number): Map<number, ProcInfo> {
  const children = new Map<number, number[]>();
  const infos = new Map<number, ProcInfo>();
  for (const pid of livePids() ?? []) {
    const stat = procStat(pid);
    if (!stat) continue;
    infos.set(pid, { pgid: stat.pgid, start: stat.start });
    const siblings = children.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else children.set(stat.ppid, [pid]);
  }
  const found = new Map<number, ProcInfo>();
  const queue = [...(children.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (found.has(pid)) continue;
    found.set(pid, infos.get(pid)!);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * Signal each remembered process that is still the same process, and the groups they are in (which also
 * reaches members started after the snapshot). Never the worker's own group.
 */
function signalProcesses(processes: Map<number, ProcInfo>, signal: NodeJS.Signals): void {
  const ownGroup = procStat(process.pid)?.pgid;
  const groups = new Set<number>();
  for (const [pid, info] of processes) {
    const now = procStat(pid);
    if (!now || now.start !== info.start) continue; // gone, or the pid was reused
    if (now.pgid !== ownGroup) groups.add(now.pgid);
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
  for (const group of groups) signalGroup(group, signal);
}

/**
 * Kill what an interrupted task left running in its workspace (the agent's children outlive a SIGKILL): every
 * process whose working directory is inside it, or only those started at or after `startedAt` (clock ticks since
 * boot, as in /proc/<pid>/stat).
 */
export function killProcessesIn(workspace: string | undefined, startedAt?: string): number {
  if (!workspace || !workspace.startsWith('/') || resolve(workspace) === '/') return 0;
  const dir = resolve(workspace);
  let killed = 0;
  for (const pid of livePids() ?? []) {
    if (pid === process.pid) continue;
    try {
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (startedAt !== undefined && Number(procStat(pid)?.start ?? 0) < Number(startedAt)) continue;
      if (cwd === dir || cwd.startsWith(dir + sep)) {
        process.kill(pid, 'SIGKILL');
        killed++;
      }
    } catch {
      // gone, or not ours
    }
  }
  return killed;
}

/** Whether any process has `path` open (Linux /proc). True where that cannot be known, so nothing is taken. */
export function fileHeldOpen(path: string): boolean {
  const pids = livePids();
  if (!pids) return true;
  for (const entry of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue; // gone, or not ours to look at
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) === path) return true;
      } catch {
        // closed meanwhile
      }
    }
  }
  return false;
}

/** Cut `text` to at most `max` characters, saying how much was left out. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… [${text.length - max} more characters truncated]`;
}
