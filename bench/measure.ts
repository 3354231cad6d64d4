// Small measuring tools of `npm run bench`: timing, medians and percentiles, disk use, processes and memory.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { descendantsOf, procStat } from '../src/process/proc.js';
import { promisify } from 'node:util';

export const run = promisify(execFile);

export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** The q-quantile (0..1) by nearest rank. */
export function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export const median = (values: number[]) => quantile(values, 0.5);

/** A and B measured alternately (A B, B A, A B, ...), so that load on the machine falls on both alike. */
export async function interleaved(rounds: number, a: (i: number) => Promise<unknown>, b: (i: number) => Promise<unknown>): Promise<{ a: number[]; b: number[] }> {
  const times = { a: [] as number[], b: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      times.a.push(await timed(() => a(i)));
      times.b.push(await timed(() => b(i)));
    } else {
      times.b.push(await timed(() => b(i)));
      times.a.push(await timed(() => a(i)));
    }
  }
  return times;
}

/** Disk use of a directory in bytes (du: what it really takes, sparse files and all). */
export async function diskUse(dir: string): Promise<number> {
  const { stdout } = await run('du', ['-sk', dir]);
  return Number(stdout.split('\t')[0]) * 1024;
}

export const mb = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MB`;

/**
 * The claude agents a worker process started: the outermost processes under it whose command line names claude
 * (bwrap or setpriv around claude, or claude itself), each with the RSS of its whole process tree.
 */
export function agentProcesses(worker: number): Array<{ pid: number; rss: number }> {
  const names = (pid: number) => {
    try {
      return /claude/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  };
  const found: Array<{ pid: number; rss: number }> = [];
  for (const pid of descendantsOf(worker).keys()) {
    const parent = procStat(pid)?.ppid;
    if (!names(pid) || (parent !== undefined && parent !== worker && names(parent))) continue;
    let rss = rssOf(pid);
    for (const child of descendantsOf(pid).keys()) rss += rssOf(child);
    found.push({ pid, rss });
  }
  return found;
}

export function rssOf(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
  } catch {
    return 0; // gone
  }
}

export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
