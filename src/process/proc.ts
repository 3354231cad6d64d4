// What /proc (Linux) tells about processes: a process tree, the processes working in a directory, who holds a
// file open. Where there is no /proc these find nothing, and fileHeldOpen answers "held" so nothing is taken.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { resolve, sep } from 'node:path';

export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

export interface ProcInfo {
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
export function procStat(pid: number): (ProcInfo & { ppid: number }) | undefined {
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
export function descendantsOf(root: number): Map<number, ProcInfo> {
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
export function signalProcesses(processes: Map<number, ProcInfo>, signal: NodeJS.Signals): void {
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
