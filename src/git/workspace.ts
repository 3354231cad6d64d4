// The local workspace of a session and every git operation on it, done by the program with git itself (never by
// asking the model): a facade over open.ts, branch.ts, commit.ts and push.ts (each with its operation key, so a
// retry finds what an earlier attempt did), plus the snapshots that tell a task's changes and the removal that
// saves unsaved work. Shared by all local backends; a remote agent (NATS) uses it on its host.
import { realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { CloneCache } from './clone-cache.js';
import { workingTreeId } from './working-tree.js';
import type { BranchRequest, BranchResult, CommitRequest, CommitResult, DiffRequest, DiffResult, FileChange, PushRequest, PushResult } from '../contract.js';
import { CodingError } from '../core/errors.js';
import { GitCredentials } from './host-credentials.js';
import { saveUnsavedWork, savedWorkOf } from './save-work.js';
import { stateDir } from '../paths.js';
import type { OperationRef } from '../core/backend.js';
import type { CodingConfig } from '../config.js';
import { WorkspaceGit, type WorkspaceRef, type WorkspaceSettings } from './workspace-git.js';
import { open, type OpenSpec, type Opened } from './open.js';
import { branch } from './branch.js';
import { commit } from './commit.js';
import { push } from './push.js';
import { diff } from './diff.js';
import { parseNameStatus } from './name-status.js';
import { measureAttempts, prepareAttempts, settleAttempts } from './attempts.js';
import type { AttemptStat, AttemptWorkspaces, PreparedAttempts, SessionRef } from '../core/backend.js';

export type { OpenSpec, Opened, WorkspaceRef, WorkspaceSettings };

/** What a removal did: deleted or not, and where the work it would have lost was saved. */
export interface Removed {
  deleted: boolean;
  saved_to?: string;
}

export class LocalWorkspace {
  private readonly ws: WorkspaceGit;

  constructor(
    readonly settings: WorkspaceSettings,
    /** Which token may go to which host: from the config only, never from a session's data. */
    readonly credentials: GitCredentials,
  ) {
    this.ws = new WorkspaceGit(settings, credentials);
    if (settings.clone_cache_dir) this.cloneCache = new CloneCache(settings.clone_cache_dir);
  }

  readonly cloneCache?: CloneCache;

  /** The workspace settings of a worker or a coding agent, from its config. */
  static fromConfig(config: CodingConfig, env: NodeJS.ProcessEnv = process.env): LocalWorkspace {
    return new LocalWorkspace(
      {
      base_path: config.workspace_base_path,
      allowed_roots: config.allowed_workspace_roots,
      clone_timeout_sec: config.clone_timeout_sec,
      push_timeout_sec: config.push_timeout_sec,
      user_name: config.git.user_name,
      user_email: config.git.user_email,
      git_timeout_sec: config.git.timeout_sec,
      clone_cache_dir: config.git.clone_cache ? (config.git.clone_cache_dir ?? join(config.workspace_base_path, '.clone-cache')) : undefined,
      },
      GitCredentials.fromConfig(config, env),
    );
  }

  managedPath(sessionId: string): string {
    // Injective: two session ids never share a directory (':' becomes '=3a'; '=' cannot be in an id).
    return join(this.settings.base_path, `ws_${sessionId.replace(/[^A-Za-z0-9._-]/g, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`);
  }

  open(spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
    const ctx = { cloneCache: this.cloneCache, managedPath: this.managedPath(spec.session_id), removeLeftover: (ref: WorkspaceRef) => this.remove(ref) };
    return open(this.ws, ctx, spec, signal);
  }

  branch(ref: WorkspaceRef, req: BranchRequest, signal: AbortSignal, op?: OperationRef): Promise<BranchResult> {
    return branch(this.ws, ref, req, signal, op);
  }

  commit(ref: WorkspaceRef, req: CommitRequest, signal: AbortSignal, op?: OperationRef): Promise<CommitResult> {
    return commit(this.ws, ref, req, signal, op);
  }

  push(ref: WorkspaceRef, req: PushRequest, signal: AbortSignal): Promise<PushResult> {
    return push(this.ws, ref, req, signal);
  }

  /** What the session changed (coding_diff); read-only. */
  diff(ref: WorkspaceRef, req: DiffRequest, signal: AbortSignal): Promise<DiffResult> {
    return diff(this.ws, ref, req, signal);
  }

  /** Best-of-N: where the attempts of a task work (attempts.ts), beside the clone cache under the workspace base. */
  readonly attempts: AttemptWorkspaces = {
    prepare: (session: SessionRef, label: string, count: number, signal: AbortSignal) => prepareAttempts(this.ws, session, join(this.attemptsDir(session.session_id), label), count, signal),
    measure: (prepared: PreparedAttempts, signal: AbortSignal) => measureAttempts(this.ws, prepared, signal),
    settle: (session: SessionRef, prepared: PreparedAttempts, chosen: AttemptStat | undefined, signal: AbortSignal) =>
      settleAttempts(this.ws, session, prepared, chosen, this.savedDir, signal),
  };

  /** Where the copies of a session's best-of-N attempts are made (removed when its tasks end, and at close). */
  attemptsDir(sessionId: string): string {
    return join(this.settings.base_path, '.attempts', basename(this.managedPath(sessionId)));
  }

  private get savedDir(): string {
    return this.settings.saved_dir ?? join(stateDir(), 'saved');
  }

  /** A content snapshot of the working tree (tracked and untracked, .gitignore respected), as a git tree id. */
  async snapshot(ref: WorkspaceRef, signal: AbortSignal): Promise<string> {
    return workingTreeId(async (args, env) => (await (await this.ws.git(ref.workspace_path, signal, env)).raw(args)).trim());
  }

  /** Files that differ between two snapshots, as git sees them (renames detected). */
  async changesBetween(ref: WorkspaceRef, before: string, after: string, signal: AbortSignal): Promise<FileChange[]> {
    if (before === after) return [];
    const out = await (await this.ws.git(ref.workspace_path, signal)).raw(['diff-tree', '-r', '-M', '--name-status', '-z', before, after]);
    return parseNameStatus(out);
  }

  /** Resolve `files` (relative paths) inside the workspace, following symlinks; refuse anything outside. */
  async checkFilesInside(ref: WorkspaceRef, files: string[]): Promise<void> {
    const root = await realpath(ref.workspace_path);
    for (const [i, file] of files.entries()) {
      const real = await realpathOfDeepestExisting(resolve(root, file));
      const rel = relative(root, real);
      if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) {
        throw new CodingError(`files[${i}]: ${file} resolves outside the workspace`, 'invalid_input');
      }
    }
  }

  /**
   * Delete a managed workspace, after saving the work that exists nowhere else (saveUnsavedWork). `askedAtMs`: when
   * the delete was first asked for; a retry then answers with the save its first attempt made.
   */
  async remove(ref: WorkspaceRef, askedAtMs?: number): Promise<Removed> {
    if (!ref.managed) return { deleted: false }; // a workspace the user gave us is never deleted
    const path = resolve(ref.workspace_path);
    const base = resolve(this.settings.base_path);
    if (!path.startsWith(base + sep)) return { deleted: false }; // never delete outside the managed base
    const repo = await stat(join(path, '.git', 'HEAD')).catch(() => undefined);
    const savedDir = this.savedDir;
    // A directory that is no repository holds no work (a clone cut short), or is what a first attempt of this
    // delete left after saving it: then that save is the answer. A repository that cannot be saved is kept.
    const saved_to = repo ? await saveUnsavedWork(path, savedDir) : askedAtMs === undefined ? undefined : await savedWorkOf(path, savedDir, askedAtMs);
    await rm(path, { recursive: true, force: true });
    return { deleted: true, ...(saved_to ? { saved_to } : {}) };
  }

  assertExists(ref: WorkspaceRef): Promise<void> {
    return this.ws.assertExists(ref);
  }
}

/** realpath of `path`, or of its deepest existing parent joined with the rest (a file the agent will create). */
async function realpathOfDeepestExisting(path: string): Promise<string> {
  const rest: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(await realpath(current), ...rest.reverse());
    } catch {
      const parent = dirname(current);
      if (parent === current) return path;
      rest.push(basename(current));
      current = parent;
    }
  }
}
