// A worker's children die with it where the OS allows: on Linux a child started through util-linux's
// `setpriv --pdeathsig KILL` is sent SIGKILL by the kernel when the worker dies, even by `kill -9`, which a
// process group alone does not give (the group outlives its parent). setpriv execs the program in place, so
// the pid, the process group and the exit status are the program's own.
//
// What the agent itself starts in new sessions is not covered (its parent is the agent); the per-workspace
// record and sweep (agent-record.ts) reap those.
import { delimiter, join } from 'node:path';
import { isExecutable, onPath } from './binaries.js';

let setprivPath: string | null | undefined;

/** setpriv with --pdeathsig, or undefined where it is missing (not Linux, no util-linux): then no wrapper. */
function setpriv(): string | undefined {
  if (setprivPath === undefined) setprivPath = process.platform === 'linux' ? (onPath('setpriv') ?? null) : null;
  return setprivPath ?? undefined;
}

/** Whether `file` can be started with this PATH: otherwise spawn it bare, so its error says the binary is missing. */
function startable(file: string, path: string | undefined): boolean {
  if (file.includes('/')) return isExecutable(file);
  return (path ?? '').split(delimiter).some((dir) => dir !== '' && isExecutable(join(dir, file)));
}

/** The command that runs `file args` and is sent `signal` when the worker dies, where the OS allows it. */
export function dyingWithWorker(file: string, args: string[], env: Record<string, string | undefined>, signal: 'KILL' | 'TERM' = 'KILL'): { file: string; args: string[] } {
  const wrapper = setpriv();
  if (!wrapper || !startable(file, env.PATH)) return { file, args };
  return { file: wrapper, args: ['--pdeathsig', signal, '--', file, ...args] };
}
