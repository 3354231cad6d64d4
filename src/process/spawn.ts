// Running a coding agent's CLI: minimal environment, its own process group, stdout read line by line,
// and on timeout or cancel the whole process tree is killed (the agent's own children too).
//
// A process-group kill alone is not enough: agents start their tools in new sessions (Claude Code's Bash
// tool runs `bash -c` under setsid), and those survive a signal to the agent's group, orphaned. So the
// tree is also walked through /proc (Linux) and every descendant and its group is signalled. What the agent
// forked while it was being killed is no longer its descendant once it is gone, so the workspace is swept too:
// every process whose working directory is inside it.
import { execa } from 'execa';
import { LineSplitter } from './line-splitter.js';
import { descendantsOf, killProcessesIn, procStat, signalGroup, signalProcesses } from './proc.js';
import { dyingWithWorker } from './parent-death.js';
import { sandboxExecError, type Room, type Sandbox } from './sandbox.js';

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
  /** Told the pid once the process runs (for the workspace's agent record). */
  onStart?: (pid: number) => void;
  /** Run inside these walls (sandbox.ts), able to use `room`. */
  sandbox?: { sandbox: Sandbox; room: Room };
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

export async function runProcess(spec: ProcessSpec): Promise<ProcessOutcome> {
  let timedOut = false;
  let cancelled = false;
  let stderrTail = '';
  // Walled off, the process we start is bwrap; the tree below it is killed the same way (and bwrap's
  // --die-with-parent takes the whole PID namespace down with it). Either way it dies with the worker where the
  // OS allows (parent-death signal), besides its own process group.
  const walled = spec.sandbox ? spec.sandbox.sandbox.wrap({ file: spec.file, args: spec.args, env: spec.env }, spec.cwd, spec.sandbox.room) : spec;
  const command = dyingWithWorker(walled.file, walled.args, walled.env);
  const child = execa(command.file, command.args, {
    cwd: spec.cwd,
    env: walled.env,
    extendEnv: false,
    input: spec.stdin ?? '',
    detached: true, // own process group, so the whole tree can be killed
    reject: false,
    buffer: false,
    stripFinalNewline: false,
    encoding: 'utf8',
  });

  const agentStart = child.pid === undefined ? undefined : procStat(child.pid)?.start;
  if (child.pid !== undefined) spec.onStart?.(child.pid);
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
        : spec.sandbox
          ? sandboxExecError(stderrTail)
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
