// One git command run as a child process, its stdout returned. Replaces simple-git for the workspace: simple-git
// waits a fixed 50 ms after every git process that prints nothing (a branch costs ~50 ms, a commit ~100 ms, a code
// task's two snapshots ~100 ms), and rejects only when git also wrote to stderr. Here the exit code decides.
import { execFile } from 'node:child_process';

/** Output beyond this is an error, not a silent truncation (a diff-tree of a huge change stays far below). */
const MAX_OUTPUT = 256 * 1024 * 1024;

export class GitCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | undefined,
  ) {
    super(message);
  }
}

/** git in one directory with one environment, cancelled by `signal` (the child is killed and reaped). */
export class GitProcess {
  constructor(
    private readonly baseDir: string,
    private readonly env: Record<string, string>,
    private readonly signal: AbortSignal,
  ) {}

  /** Run `git <args>`; resolves to stdout, rejects with stderr (or the reason) when git fails. */
  raw(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) return reject(new GitCommandError('git aborted by signal', undefined));
      const child = execFile(
        'git',
        args,
        { cwd: this.baseDir, env: this.env, signal: this.signal, maxBuffer: MAX_OUTPUT, encoding: 'utf8', windowsHide: true },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          // gitFailure (workspace.ts) reads "abort ... signal" as a cancel.
          if (err.name === 'AbortError') return reject(new GitCommandError('git aborted by signal', undefined));
          const code = typeof err.code === 'number' ? err.code : undefined;
          reject(new GitCommandError(stderr.trim() || stdout.trim() || err.message, code));
        },
      );
      // git reads nothing from stdin: a command that would prompt gets end-of-file instead of hanging.
      child.stdin?.end();
    });
  }
}
