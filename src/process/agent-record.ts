// One agent process per workspace, ever. A task writes a record into the workspace's .git directory when it
// starts (when, by which worker, and the agent's pid, group and start time once spawned) and removes it when it
// ends. A worker killed with SIGKILL cannot remove it: the next attempt in that workspace, or the next worker
// to start on this host, finds it and kills what is left before anything else runs there.
//
// A pid is never trusted alone: the start time from /proc/<pid>/stat must match, or the pid was reused by an
// unrelated process and is left alone.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { descendantsOf, killProcessesIn, procStat, signalGroup, signalProcesses } from './proc.js';

export interface AgentRecord {
  /** When the task started, in clock ticks since boot (as /proc/<pid>/stat field 22): what started since is the task's. */
  task_start: string;
  /** The worker that runs the task: a record whose worker is alive belongs to a running task of another worker. */
  worker: { pid: number; start: string };
  /** The agent process, once spawned: leader of its own process group. */
  agent?: { pid: number; pgid: number; start: string };
}

/** Where a workspace's record is kept: inside .git, so the agent's own `git status` never shows it. */
export function recordPath(workspace: string): string {
  return join(workspace, '.git', 'station', 'agent.json');
}

/** Now, in clock ticks since boot (USER_HZ is 100 on Linux), comparable with a process's start time. */
export function ticksNow(): string {
  try {
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return String(Math.floor(uptime * 100));
  } catch {
    return '0';
  }
}

export function readRecord(workspace: string): AgentRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordPath(workspace), 'utf8')) as AgentRecord;
  } catch {
    return undefined; // none, or half-written by a worker that died while writing (written through a rename, so rare)
  }
}

function writeRecord(workspace: string, record: AgentRecord): void {
  const path = recordPath(workspace);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(`${path}.tmp`, JSON.stringify(record));
    renameSync(`${path}.tmp`, path);
  } catch {
    // A workspace without .git (never a session's) has nowhere to keep it; the sweep after the task still runs.
  }
}

/** A task starts in `workspace`: record it (the agent's pid follows through `agentStarted`). */
export function recordTaskStart(workspace: string): AgentRecord {
  const record: AgentRecord = { task_start: ticksNow(), worker: { pid: process.pid, start: procStat(process.pid)?.start ?? '' } };
  writeRecord(workspace, record);
  return record;
}

/** The agent of the task recorded in `workspace` was spawned. */
export function recordAgentStart(workspace: string, pid: number): void {
  const record = readRecord(workspace);
  const stat = procStat(pid);
  if (!record || !stat) return;
  writeRecord(workspace, { ...record, agent: { pid, pgid: stat.pgid, start: stat.start } });
}

/** The task ended: kill what it left running in the workspace (background processes too) and drop the record. */
export function endTask(workspace: string, record: AgentRecord): number {
  const killed = killProcessesIn(workspace, record.task_start);
  const current = readRecord(workspace);
  if (current?.task_start === record.task_start && current.worker.pid === record.worker.pid) rmSync(recordPath(workspace), { force: true });
  return killed;
}

/** Whether the process `who` describes is still that process (same start time), not a reused pid. */
export function stillRunning(who: { pid: number; start: string }): boolean {
  const now = procStat(who.pid);
  return now !== undefined && now.start === who.start;
}

/**
 * Kill whatever an earlier task left in `workspace`: the recorded agent and its group (SIGTERM, then SIGKILL
 * after `graceMs`), its descendants, and every process working in the workspace that started with or after that
 * task. With `onlyIfWorkerGone` a record whose worker is still alive is left alone (another live worker's task).
 * Returns how many processes were found, or undefined when there was no record to act on.
 */
export async function reapRecordedAgent(workspace: string, options: { graceMs?: number; onlyIfWorkerGone?: boolean } = {}): Promise<number | undefined> {
  const record = readRecord(workspace);
  if (!record) return undefined;
  if (options.onlyIfWorkerGone && stillRunning(record.worker)) return undefined; // this process's own tasks included
  let found = 0;
  const agent = record.agent;
  if (agent && stillRunning(agent) && agent.pgid !== procStat(process.pid)?.pgid) {
    found++;
    const tree = descendantsOf(agent.pid);
    found += tree.size;
    signalGroup(agent.pgid, 'SIGTERM');
    signalProcesses(tree, 'SIGTERM');
    const deadline = Date.now() + (options.graceMs ?? 3000);
    while (stillRunning(agent) && Date.now() < deadline) await sleep(100);
    if (stillRunning(agent)) for (const [pid, info] of descendantsOf(agent.pid)) tree.set(pid, info);
    signalGroup(agent.pgid, 'SIGKILL');
    signalProcesses(tree, 'SIGKILL');
  }
  // Tools the agent started in new sessions (Claude Code's Bash) are no longer its descendants once it is gone.
  found += killProcessesIn(workspace, record.task_start);
  rmSync(recordPath(workspace), { force: true });
  return found;
}
