// The git of one worker's workspaces: every command through hardening.ts (nothing of the repository's runs), the
// author for commits, the token for the one host it is configured for, time limits with the key to raise, and
// errors a user can act on. The operations (open.ts, branch.ts, commit.ts, push.ts) share it.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitProcess } from './git-process.js';
import { CodingError } from '../core/errors.js';
import type { SessionRef } from '../core/backend.js';
import { gitAuthEnv } from './credentials.js';
import { hardenedGit } from './hardening.js';
import type { GitCredentials } from './host-credentials.js';
import { gitFailure } from './git-failure.js';

export interface WorkspaceSettings {
  base_path: string;
  clone_timeout_sec: number;
  push_timeout_sec: number;
  user_name: string;
  user_email: string;
  /** A local git command (commit, checkout, snapshot) silent this long is killed. */
  git_timeout_sec: number;
  /** When set, an existing workspace must lie inside one of these directories (default: base_path). */
  allowed_roots?: string[];
  /** Where unsaved work of a deleted workspace goes (default: <state dir>/saved). */
  saved_dir?: string;
  /** Where the per-host mirrors of repositories are kept (clone-cache.ts); unset: every open is a full clone. */
  clone_cache_dir?: string;
}

/** Where a session's workspace is and whose token its git may use: the part of the session's reference git needs. */
export type WorkspaceRef = Pick<SessionRef, 'session_id' | 'workspace_path' | 'managed' | 'repo_url' | 'token_env'>;

export class WorkspaceGit {
  constructor(
    readonly settings: WorkspaceSettings,
    /** Which token may go to which host: from the config only, never from a session's data. */
    readonly credentials: GitCredentials,
  ) {}

  /** Every git command of the worker goes through hardening.ts: nothing of the repository's runs. */
  git(baseDir: string, signal: AbortSignal, extraEnv: Record<string, string> = {}, timeoutSec = this.settings.git_timeout_sec): Promise<GitProcess> {
    return hardenedGit(baseDir, signal, timeoutSec, extraEnv);
  }

  /** A git that commits as the configured author. */
  authorGit(baseDir: string, signal: AbortSignal): Promise<GitProcess> {
    const { user_name, user_email } = this.settings;
    return this.git(baseDir, signal, { GIT_AUTHOR_NAME: user_name, GIT_AUTHOR_EMAIL: user_email, GIT_COMMITTER_NAME: user_name, GIT_COMMITTER_EMAIL: user_email });
  }

  /** A git that talks to `remoteUrl`, with the token configured for that URL's host (if any, else none). */
  authedGit(baseDir: string, ref: WorkspaceRef, remoteUrl: string | undefined, timeoutSec: number, signal: AbortSignal): Promise<GitProcess> {
    return this.git(baseDir, signal, gitAuthEnv(remoteUrl, this.credentials.tokenFor(remoteUrl, ref.token_env)), timeoutSec);
  }

  async withTimeout<T>(seconds: number, what: string, key: string, signal: AbortSignal, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(seconds * 1000);
    try {
      return await fn(AbortSignal.any([signal, timeout]));
    } catch (err) {
      if (timeout.aborted) throw new CodingError(`${what} timed out after ${seconds}s (raise ${key})`, 'timeout', true);
      throw err;
    }
  }

  /** Turn a git error into a one-line CodingError a user can act on, with every token removed (git-failure.ts). */
  failure(err: unknown, ref: WorkspaceRef, action: string, branch?: string, remoteUrl?: string): CodingError {
    return gitFailure(err, action, { credentials: this.credentials, token_env: ref.token_env, branch, remote_url: remoteUrl });
  }

  async assertExists(ref: WorkspaceRef): Promise<void> {
    const info = await stat(join(ref.workspace_path, '.git')).catch(() => undefined);
    if (!info) {
      throw new CodingError(`workspace ${ref.workspace_path} of session ${ref.session_id} no longer exists on this host`, 'not_found');
    }
  }

  async currentBranch(path: string, signal: AbortSignal): Promise<string | undefined> {
    // Read from .git/HEAD where it is a plain file (each git process costs milliseconds); git answers otherwise
    // (a linked worktree's .git is a file, and HEAD may point outside refs/heads).
    const head = await readFile(join(path, '.git', 'HEAD'), 'utf8').catch(() => undefined);
    if (head !== undefined && !head.startsWith('ref: ')) return undefined; // detached
    const local = head && /^ref: refs\/heads\/(\S+)\s*$/.exec(head)?.[1];
    // A reftable repository's HEAD file always says refs/heads/.invalid: only git knows.
    if (local && local !== '.invalid') return local;
    const name = (await (await this.git(path, signal)).raw(['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '')).trim();
    return name || undefined;
  }

  async refExists(git: GitProcess, refName: string): Promise<boolean> {
    const hash = await git.raw(['rev-parse', '--verify', '--quiet', refName]).catch(() => '');
    return hash.trim().length > 0;
  }
}
