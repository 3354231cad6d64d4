// One git command run as a child process (started by the spawn helper, ../process/spawn-helper.ts), its stdout
// returned. Replaces simple-git for the workspace: simple-git waits a fixed 50 ms after every git process that
// prints nothing (a branch costs ~50 ms, a commit ~100 ms, a code task's two snapshots ~100 ms), and rejects only
// when git also wrote to stderr. Here the exit code decides.
import { runShortCommand } from '../process/spawn-helper.js';

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
  async raw(args: string[], env?: Record<string, string>): Promise<string> {
    if (this.signal.aborted) throw new GitCommandError('git aborted by signal', undefined);
    const config = (this.options.config ?? []).flatMap((setting) => ['-c', setting]);
    const result = await runShortCommand(
      { file: 'git', args: [...config, ...args], cwd: this.baseDir, env: env ? { ...this.env, ...env } : this.env, maxBuffer: MAX_OUTPUT, silenceMs: this.options.silenceMs },
      this.signal,
    );
    if (result.code === 0) return result.stdout;
    // git-failure.ts reads these two phrases as a cancel and as a silence timeout.
    if (this.signal.aborted) throw new GitCommandError('git aborted by signal', undefined);
    if (result.silenced) throw new GitCommandError(`git block timeout reached: it printed nothing for ${this.options.silenceMs} ms`, undefined);
    throw new GitCommandError(result.stderr.trim() || result.stdout.trim() || result.error || 'git failed', result.code);
  }
}
