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

export interface GitProcessOptions {
  /** `key=value` settings passed as `-c` before every command (they outrank the repository's config). */
  config?: string[];
  /** Kill git when it prints nothing for this long (a hung remote, a FIFO planted in .git). */
  silenceMs?: number;
}

/** git in one directory with one environment, cancelled by `signal` (the child is killed and reaped). */
export class GitProcess {
  constructor(
    private readonly baseDir: string,
    private readonly env: Record<string, string>,
    private readonly signal: AbortSignal,
    private readonly options: GitProcessOptions = {},
  ) {}

  /** Run `git <args>` (with `env` added to the process's); resolves to stdout, rejects with stderr (or the reason) when git fails. */
  raw(args: string[], env?: Record<string, string>): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.signal.aborted) return reject(new GitCommandError('git aborted by signal', undefined));
      let silent = false;
      const config = (this.options.config ?? []).flatMap((setting) => ['-c', setting]);
      const child = execFile(
        'git',
        [...config, ...args],
        { cwd: this.baseDir, env: env ? { ...this.env, ...env } : this.env, signal: this.signal, maxBuffer: MAX_OUTPUT, encoding: 'utf8', windowsHide: true },
        (err, stdout, stderr) => {
          clearTimeout(timer);
          if (!err) return resolve(stdout);
          // git-failure.ts reads these two phrases as a cancel and as a silence timeout.
          if (err.name === 'AbortError') return reject(new GitCommandError('git aborted by signal', undefined));
          if (silent) return reject(new GitCommandError(`git block timeout reached: it printed nothing for ${this.options.silenceMs} ms`, undefined));
          const code = typeof err.code === 'number' ? err.code : undefined;
          reject(new GitCommandError(stderr.trim() || stdout.trim() || err.message, code));
        },
      );
      let timer: NodeJS.Timeout | undefined;
      const arm = () => {
        if (!this.options.silenceMs) return;
        clearTimeout(timer);
        timer = setTimeout(() => {
          silent = true;
          child.kill('SIGKILL');
        }, this.options.silenceMs);
      };
      arm();
      child.stdout?.on('data', arm);
      child.stderr?.on('data', arm);
      // git reads nothing from stdin: a command that would prompt gets end-of-file instead of hanging.
      child.stdin?.end();
    });
  }
}
