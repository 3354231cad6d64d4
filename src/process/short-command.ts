// One short command (git) run to its end, its output collected: killed when it prints nothing for `silenceMs`,
// never waiting on stdin. Run by the spawn helper (spawn-helper-main.ts), or in the worker when there is none.
import { execFile, type ChildProcess } from 'node:child_process';
import { dyingWithWorker } from './parent-death.js';

export interface ShortCommand {
  file: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  maxBuffer: number;
  /** Kill the command when it prints nothing for this long. */
  silenceMs?: number;
}

export interface ShortCommandOutcome {
  stdout: string;
  stderr: string;
  /** The exit code; undefined when it did not exit by itself (killed, not started). */
  code?: number;
  /** Killed because it printed nothing for silenceMs. */
  silenced: boolean;
  /** Why it failed, when it did. */
  error?: string;
}

/**
 * Start `cmd`; `child` to kill it (undefined when it could not start), `outcome` when it has ended. The command
 * dies with the process that started it (setpriv --pdeathsig), so a hung git never outlives its silence timer.
 */
export function startShortCommand(cmd: ShortCommand): { child?: ChildProcess; outcome: Promise<ShortCommandOutcome> } {
  let silenced = false;
  let timer: NodeJS.Timeout | undefined;
  let child: ChildProcess;
  const { file, args } = dyingWithWorker(cmd.file, cmd.args, cmd.env);
  try {
    child = execFile(file, args, { cwd: cmd.cwd, env: cmd.env, maxBuffer: cmd.maxBuffer, encoding: 'utf8', windowsHide: true }, (err, stdout, stderr) => {
      clearTimeout(timer);
      if (!err) return done({ stdout, stderr, code: 0, silenced });
      done({ stdout, stderr, code: typeof err.code === 'number' ? err.code : undefined, silenced, error: err.message });
    });
  } catch (err) {
    // An argument Node refuses (a NUL byte in a commit message): an answer, not a crash.
    return { outcome: Promise.resolve({ stdout: '', stderr: '', silenced: false, error: (err as Error).message }) };
  }
  let done!: (outcome: ShortCommandOutcome) => void;
  const outcome = new Promise<ShortCommandOutcome>((resolve) => (done = resolve));
  const arm = () => {
    if (!cmd.silenceMs) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      silenced = true;
      child.kill('SIGKILL');
    }, cmd.silenceMs);
  };
  arm();
  child.stdout?.on('data', arm);
  child.stderr?.on('data', arm);
  // The commands read nothing: one that would prompt gets end-of-file instead of hanging.
  child.stdin?.end();
  return { child, outcome };
}
