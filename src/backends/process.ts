// Running a coding agent's CLI: minimal environment, its own process group, stdout read line by line,
// and on timeout or cancel the whole process tree is killed (the agent's own children too).
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

  const killTree = () => {
    const pid = child.pid;
    if (pid === undefined) return;
    signalGroup(pid, 'SIGTERM');
    const grace = setTimeout(() => signalGroup(pid, 'SIGKILL'), spec.killGraceMs ?? 3000);
    grace.unref();
    void child.finally(() => {
      clearTimeout(grace);
      // The group leader is gone; make sure nothing it started survives it.
      signalGroup(pid, 'SIGKILL');
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

  let pending = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    pending += chunk;
    let newline: number;
    while ((newline = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, newline).trim();
      pending = pending.slice(newline + 1);
      if (line) spec.onLine(line);
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL);
  });

  try {
    const result = await child;
    if (pending.trim()) spec.onLine(pending.trim());
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

/** Cut `text` to at most `max` characters, saying how much was left out. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… [${text.length - max} more characters truncated]`;
}
