// The local workspace of a session and every git operation on it, done by the program with git itself
// (never by asking the model). Shared by all local backends; a remote agent (NATS) uses it on its host.
import { mkdir, readFile, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { GitProcess } from './git-process.js';
import { CloneCache } from './clone-cache.js';
import { workingTreeId } from './working-tree.js';
import type { BranchRequest, BranchResult, CommitRequest, CommitResult, FileChange, PushRequest, PushResult } from '../contract.js';
import { CodingError } from '../core/errors.js';
import { gitAuthEnv, riskyLocalConfigKeys } from './credentials.js';
import { hardenedGit, hardenedGitForNewRepository, rememberWorkerConfig } from './hardening.js';
import { GitCredentials } from './host-credentials.js';
import { gitFailure } from './git-failure.js';
import { checkWorkspacePath } from './workspace-roots.js';
import { removeStaleLocks } from './locks.js';
import { markOperation } from './operation-marks.js';
import { saveUnsavedWork, savedWorkOf } from './save-work.js';
import { isKept } from './kept.js';
import { stateDir } from '../paths.js';
import type { OperationRef } from '../core/backend.js';
import type { CodingConfig } from '../config.js';

/** The commit trailer naming the operation that made a commit, so that a retry of it finds it. */
export const OPERATION_TRAILER = 'Station-Operation';
/** How HEAD's reflog names the operation that created a branch (GIT_REFLOG_ACTION of the checkout). */
const BRANCH_REFLOG = 'station-coding operation';

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

/** What a removal did: deleted or not, and where the work it would have lost was saved. */
export interface Removed {
  deleted: boolean;
  saved_to?: string;
}

/** Where a session's workspace is and whose token its git may use. */
export interface WorkspaceRef {
  session_id: string;
  workspace_path: string;
  managed: boolean;
  repo_url?: string;
  /** The session's choice among the configured token variables (credentials.token_env), never the token. */
  token_env?: string;
}

export interface OpenSpec {
  session_id: string;
  repo_url?: string;
  branch?: string;
  workspace_path?: string;
  /** Run `git init` in a workspace_path that is not a repository yet (otherwise it is refused). */
  init?: boolean;
  token_env?: string;
}

export interface Opened {
  workspace_path: string;
  repo_cloned: boolean;
  managed: boolean;
  branch?: string;
  repo_url?: string;
}

export class LocalWorkspace {
  constructor(
    readonly settings: WorkspaceSettings,
    /** Which token may go to which host: from the config only, never from a session's data. */
    readonly credentials: GitCredentials,
  ) {
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

  async open(spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
    this.credentials.check(spec.token_env);
    if (spec.workspace_path) return this.openExisting(spec, signal);
    const path = this.managedPath(spec.session_id);
    // A workspace an earlier session of this id kept is re-attached, never deleted by a re-open.
    if (await isKept(path)) return this.reattach(path, spec, signal);
    // A retried open starts over; a workspace a dead session left behind has what it holds saved first.
    await this.remove({ session_id: spec.session_id, workspace_path: path, managed: true });
    await mkdir(this.settings.base_path, { recursive: true });
    if (!spec.repo_url) {
      await mkdir(path, { recursive: true });
      await hardenedGitForNewRepository(path, signal, this.settings.git_timeout_sec).raw(['init', '--initial-branch', spec.branch ?? 'main']);
      await rememberWorkerConfig(path);
      return { workspace_path: path, repo_cloned: false, managed: true, branch: spec.branch ?? 'main' };
    }
    const ref: WorkspaceRef = { session_id: spec.session_id, workspace_path: path, managed: true, repo_url: spec.repo_url, token_env: spec.token_env };
    const mirror = await this.mirrorOf(ref, signal);
    // From the mirror (just fetched): a local clone that shares its objects, then pointed at the real remote.
    const args = ['clone', mirror ? '--shared' : '--no-local', ...(spec.branch ? ['--branch', spec.branch] : []), '--', mirror ?? spec.repo_url, path];
    try {
      await this.withTimeout(this.settings.clone_timeout_sec, 'clone', 'coding.clone_timeout_sec', signal, (s) =>
        this.authedGit(this.settings.base_path, ref, spec.repo_url, this.settings.clone_timeout_sec, s).then((git) => git.raw(args)),
      );
      await rememberWorkerConfig(path);
      if (mirror) {
        await (await this.git(path, signal)).raw(['remote', 'set-url', 'origin', spec.repo_url]);
        await rememberWorkerConfig(path);
      }
    } catch (err) {
      await rm(path, { recursive: true, force: true });
      throw this.gitFailure(err, ref, `clone ${spec.repo_url}`, spec.branch, spec.repo_url);
    }
    return { workspace_path: path, repo_cloned: true, managed: true, branch: await this.currentBranch(path, signal), repo_url: spec.repo_url };
  }

  /** The repository's mirror in the clone cache, up to date; undefined without a cache or when it cannot be had. */
  private async mirrorOf(ref: WorkspaceRef, signal: AbortSignal): Promise<string | undefined> {
    if (!this.cloneCache || !ref.repo_url) return undefined;
    const seconds = this.settings.clone_timeout_sec;
    try {
      return await this.withTimeout(seconds, 'clone', 'coding.clone_timeout_sec', signal, (s) =>
        this.cloneCache!.mirrorFor(ref.repo_url!, async (cwd, args, s2) => (await this.authedGit(cwd, ref, ref.repo_url, seconds, s2)).raw(args), s),
      );
    } catch {
      // The plain clone that follows reports the problem (auth, not found, ...) as it always did.
      return undefined;
    }
  }

  private async reattach(path: string, spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
    const origin = (await (await this.git(path, signal)).raw(['remote', 'get-url', 'origin']).catch(() => '')).trim();
    if (spec.repo_url && origin !== spec.repo_url) {
      throw new CodingError(
        `the workspace ${path} that an earlier session ${spec.session_id} kept holds ${origin || 'a repository with no origin'}, not ${spec.repo_url}: open it with its own repo_url, or use another session/scope id (delete the directory yourself to start over)`,
        'conflict',
      );
    }
    if (spec.branch) await this.branch({ session_id: spec.session_id, workspace_path: path, managed: true }, { branch: spec.branch, create: false }, signal);
    return { workspace_path: path, repo_cloned: false, managed: true, branch: await this.currentBranch(path, signal), repo_url: origin || undefined };
  }

  private async openExisting(spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
    const path = await checkWorkspacePath(spec.workspace_path!, { base_path: this.settings.base_path, allowed: this.settings.allowed_roots });
    const git = await this.git(path, signal);
    const top = (await git.raw(['rev-parse', '--show-toplevel']).catch(() => '')).trim();
    if (!top) {
      if (!spec.init) {
        throw new CodingError(`workspace_path ${path} is not a git repository: give a repository, or set init: true to run git init there`, 'invalid_input');
      }
      await git.raw(['init', '--initial-branch', spec.branch ?? 'main']);
    } else if ((await realpath(top)) !== (await realpath(path))) {
      throw new CodingError(`workspace_path ${path} is inside the git repository ${top}: give the repository root`, 'invalid_input');
    }
    if (spec.branch) await this.branch({ session_id: spec.session_id, workspace_path: path, managed: false }, { branch: spec.branch, create: false }, signal);
    const origin = (await git.raw(['remote', 'get-url', 'origin']).catch(() => '')).trim();
    return { workspace_path: path, repo_cloned: false, managed: false, branch: await this.currentBranch(path, signal), repo_url: origin || undefined };
  }

  async branch(ref: WorkspaceRef, req: BranchRequest, signal: AbortSignal, op?: OperationRef): Promise<BranchResult> {
    await this.assertExists(ref);
    await removeStaleLocks(ref.workspace_path);
    const git = await this.git(ref.workspace_path, signal);
    const previous = await this.currentBranch(ref.workspace_path, signal);
    if (req.create) {
      // HEAD's reflog entry names the operation: a retry (whichever worker or path runs it) finds its own switch.
      const reflog = op ? { GIT_REFLOG_ACTION: `${BRANCH_REFLOG} ${op.key}: moving from ${previous ?? '(detached)'} to ${req.branch}` } : undefined;
      // Created straight away; why it failed is asked only when it did.
      const failed = await git.raw(['checkout', '-b', req.branch], reflog).then(
        () => undefined,
        (err: Error) => err,
      );
      if (!failed) return { success: true, branch: req.branch, created: true, previous_branch: previous };
      if (!(await this.refExists(git, `refs/heads/${req.branch}`))) throw this.gitFailure(failed, ref, `create branch ${req.branch}`);
      const earlier = op && (await this.branchCreatedBy(git, op, req.branch, previous));
      if (earlier) return earlier;
      throw new CodingError(`branch '${req.branch}' already exists: switch to it with create: false`, 'conflict');
    }
    const exists = await this.refExists(git, `refs/heads/${req.branch}`);
    if (!exists) {
      const remoteRef = (await git.raw(['for-each-ref', '--format=%(refname:short)', `refs/remotes/*/${req.branch}`])).trim().split('\n')[0];
      if (!remoteRef) throw new CodingError(`branch '${req.branch}' does not exist: create it with create: true`, 'not_found');
      await git.raw(['checkout', '-b', req.branch, '--track', remoteRef]).catch((err) => {
        throw this.gitFailure(err, ref, `switch to ${req.branch}`);
      });
      return { success: true, branch: req.branch, created: false, previous_branch: previous };
    }
    await git.raw(['checkout', req.branch, '--']).catch((err) => {
      throw this.gitFailure(err, ref, `switch to ${req.branch}`);
    });
    return { success: true, branch: req.branch, created: false, previous_branch: previous };
  }

  /**
   * The branch exists because this very operation created it (an earlier attempt that lost its result): it is
   * current, and HEAD's last move is the switch that attempt recorded under the operation's key.
   */
  private async branchCreatedBy(git: GitProcess, op: OperationRef, branch: string, current: string | undefined): Promise<BranchResult | undefined> {
    if (current !== branch) return undefined;
    const headMove = (await git.raw(['reflog', '-1', '--format=%gs', 'HEAD']).catch(() => '')).trim();
    const prefix = `${BRANCH_REFLOG} ${op.key}: moving from `;
    if (!headMove.startsWith(prefix) || !headMove.endsWith(` to ${branch}`)) return undefined;
    const previous = headMove.slice(prefix.length, -` to ${branch}`.length);
    return { success: true, branch, created: true, previous_branch: previous === '(detached)' ? undefined : previous };
  }

  async commit(ref: WorkspaceRef, req: CommitRequest, signal: AbortSignal, op?: OperationRef): Promise<CommitResult> {
    await this.assertExists(ref);
    await removeStaleLocks(ref.workspace_path);
    const git = await this.authorGit(ref.workspace_path, signal);
    // An attempt of this operation ran here before (its result lost): if its commit is on HEAD, that is the answer,
    // even if the working tree changed since. The mark is a file, so a first attempt runs no extra git.
    if (op && (await markOperation(ref.workspace_path, op.key)) === 'seen') {
      const onHead = (await git.raw(['log', '-1', `--format=%(trailers:key=${OPERATION_TRAILER},valueonly)`]).catch(() => '')).trim();
      if (onHead === op.key) return this.commitResult(git, ref, signal);
    }
    if (req.add_all) {
      await git.raw(['add', '--all']).catch((err) => {
        throw this.gitFailure(err, ref, 'stage changes');
      });
    }
    // The trailer as its own paragraph, not `--trailer`: that would run any trailer.*.cmd the repository sets.
    const trailer = op ? ['-m', `${OPERATION_TRAILER}: ${op.key}`] : [];
    // Committed straight away (each git process costs milliseconds); why it failed is asked only when it did. The
    // summary git prints names the full hash (core.abbrev=no) and the stats, so no second git is needed for them.
    const commit = (abbrev: string[]) =>
      git.raw([...abbrev, 'commit', '-m', req.message, ...trailer]).then(
        (summary) => summary,
        (err: Error) => err,
      );
    let committed = await commit(['-c', 'core.abbrev=no']);
    // git before 2.31 knows no core.abbrev=no: commit without it, then ask for the hash.
    if (committed instanceof Error && /bad numeric config value/.test(committed.message)) committed = await commit([]);
    if (typeof committed === 'string') return this.committedFrom(committed, git, ref, signal);
    const failed = committed;
    const staged = (await git.raw(['diff', '--cached', '--name-only']).catch(() => 'unknown')).trim();
    if (staged) throw this.gitFailure(failed, ref, 'commit');
    // Nothing to commit because an earlier attempt of this operation committed it (and lost its result)?
    const key = op && (await git.raw(['log', '-1', `--format=%(trailers:key=${OPERATION_TRAILER},valueonly)`]).catch(() => '')).trim();
    if (key && key === op.key) return this.commitResult(git, ref, signal);
    throw new CodingError(
      req.add_all ? 'nothing to commit: the workspace has no changes' : 'nothing to commit: no staged changes (use add_all: true to stage every change)',
      'conflict',
    );
  }

  /** The result from the summary of `git commit` ("[main <hash>] subject", then " 1 file changed, ..."). */
  private async committedFrom(summary: string, git: GitProcess, ref: WorkspaceRef, signal: AbortSignal): Promise<CommitResult> {
    const branch = await this.currentBranch(ref.workspace_path, signal);
    const [first = '', ...rest] = summary.split('\n');
    // The line starts with the branch git committed on (a branch name may hold "]" and hex: matched as a prefix).
    const head = `[${branch ?? 'detached HEAD'} `;
    const hash = first.startsWith(head) ? /^(?:\(root-commit\) )?([0-9a-f]{40}|[0-9a-f]{64})\] /.exec(first.slice(head.length))?.[1] : undefined;
    if (!hash) return this.commitResult(git, ref, signal);
    const stat = rest.find((line) => /^\s*\d+ files? changed/.test(line)) ?? '';
    return { success: true, commit_hash: hash, branch, ...parseShortstat(stat) };
  }

  private async commitResult(git: GitProcess, ref: WorkspaceRef, signal: AbortSignal): Promise<CommitResult> {
    const [shown, branch] = await Promise.all([git.raw(['show', '--shortstat', '--format=%H', 'HEAD']), this.currentBranch(ref.workspace_path, signal)]);
    const [hash = '', ...stat] = shown.trim().split('\n');
    return { success: true, commit_hash: hash.trim(), branch, ...parseShortstat(stat.join('\n')) };
  }

  async push(ref: WorkspaceRef, req: PushRequest, signal: AbortSignal): Promise<PushResult> {
    await this.assertExists(ref);
    const git = await this.git(ref.workspace_path, signal);
    const remotes = (await git.raw(['remote'])).split('\n').map((r) => r.trim()).filter(Boolean);
    if (!remotes.includes(req.remote)) {
      throw new CodingError(`remote '${req.remote}' does not exist in the workspace (remotes: ${remotes.join(', ') || 'none'})`, 'not_found');
    }
    const branch = req.branch ?? (await this.currentBranch(ref.workspace_path, signal));
    if (!branch) throw new CodingError('HEAD is detached: give the branch to push', 'invalid_input');
    if (!(await this.refExists(git, `refs/heads/${branch}`))) {
      throw new CodingError(`branch '${branch}' does not exist in the workspace (commit first?)`, 'not_found');
    }
    // The URL git will really push to (a pushurl wins over url); the token is chosen by its host.
    const pushUrls = (await git.raw(['remote', 'get-url', '--push', '--all', req.remote])).split('\n').map((u) => u.trim()).filter(Boolean);
    if (pushUrls.length !== 1) throw new CodingError(`remote '${req.remote}' has ${pushUrls.length} push URLs: give it exactly one`, 'invalid_input');
    const remoteUrl = pushUrls[0]!;
    const risky = riskyLocalConfigKeys(await git.raw(['config', '--local', '--list']).catch(() => ''));
    if (risky.length > 0) {
      throw new CodingError(
        `refusing to push with the git token: the workspace's .git/config sets ${risky.join(', ')}, which could send it elsewhere (remove with git config --unset)`,
        'invalid_input',
      );
    }
    // --no-verify: a pre-push hook is code the agent could have written; it must not run beside the token.
    const args = ['push', '--porcelain', '--no-verify', ...(req.set_upstream ? ['--set-upstream'] : []), req.remote, `refs/heads/${branch}:refs/heads/${branch}`];
    try {
      await this.withTimeout(this.settings.push_timeout_sec, 'push', 'coding.push_timeout_sec', signal, (s) =>
        this.authedGit(ref.workspace_path, ref, remoteUrl, this.settings.push_timeout_sec, s).then((git) => git.raw(args)),
      );
    } catch (err) {
      throw this.gitFailure(err, ref, `push ${branch} to ${req.remote}`, undefined, remoteUrl);
    }
    const hash = (await git.raw(['rev-parse', `refs/heads/${branch}`])).trim();
    return { success: true, remote: req.remote, branch, commit_hash: hash, set_upstream: req.set_upstream };
  }

  /** A content snapshot of the working tree (tracked and untracked, .gitignore respected), as a git tree id. */
  async snapshot(ref: WorkspaceRef, signal: AbortSignal): Promise<string> {
    return workingTreeId(async (args, env) => (await (await this.git(ref.workspace_path, signal, env)).raw(args)).trim());
  }

  /** Files that differ between two snapshots, as git sees them (renames detected). */
  async changesBetween(ref: WorkspaceRef, before: string, after: string, signal: AbortSignal): Promise<FileChange[]> {
    if (before === after) return [];
    const out = await (await this.git(ref.workspace_path, signal)).raw(['diff-tree', '-r', '-M', '--name-status', '-z', before, after]);
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
    const savedDir = this.settings.saved_dir ?? join(stateDir(), 'saved');
    // A directory that is no repository holds no work (a clone cut short), or is what a first attempt of this
    // delete left after saving it: then that save is the answer. A repository that cannot be saved is kept.
    const saved_to = repo ? await saveUnsavedWork(path, savedDir) : askedAtMs === undefined ? undefined : await savedWorkOf(path, savedDir, askedAtMs);
    await rm(path, { recursive: true, force: true });
    return { deleted: true, ...(saved_to ? { saved_to } : {}) };
  }

  async assertExists(ref: WorkspaceRef): Promise<void> {
    const info = await stat(join(ref.workspace_path, '.git')).catch(() => undefined);
    if (!info) {
      throw new CodingError(`workspace ${ref.workspace_path} of session ${ref.session_id} no longer exists on this host`, 'not_found');
    }
  }

  private async currentBranch(path: string, signal: AbortSignal): Promise<string | undefined> {
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

  private async refExists(git: GitProcess, refName: string): Promise<boolean> {
    const hash = await git.raw(['rev-parse', '--verify', '--quiet', refName]).catch(() => '');
    return hash.trim().length > 0;
  }

  /** Every git command of the worker goes through hardening.ts: nothing of the repository's runs. */
  private git(baseDir: string, signal: AbortSignal, extraEnv: Record<string, string> = {}, timeoutSec = this.settings.git_timeout_sec): Promise<GitProcess> {
    return hardenedGit(baseDir, signal, timeoutSec, extraEnv);
  }

  private authorGit(baseDir: string, signal: AbortSignal): Promise<GitProcess> {
    const { user_name, user_email } = this.settings;
    return this.git(baseDir, signal, { GIT_AUTHOR_NAME: user_name, GIT_AUTHOR_EMAIL: user_email, GIT_COMMITTER_NAME: user_name, GIT_COMMITTER_EMAIL: user_email });
  }

  /** A git that talks to `remoteUrl`, with the token configured for that URL's host (if any, else none). */
  private authedGit(baseDir: string, ref: WorkspaceRef, remoteUrl: string | undefined, timeoutSec: number, signal: AbortSignal): Promise<GitProcess> {
    return this.git(baseDir, signal, gitAuthEnv(remoteUrl, this.credentials.tokenFor(remoteUrl, ref.token_env)), timeoutSec);
  }

  private async withTimeout<T>(seconds: number, what: string, key: string, signal: AbortSignal, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
    const timeout = AbortSignal.timeout(seconds * 1000);
    try {
      return await fn(AbortSignal.any([signal, timeout]));
    } catch (err) {
      if (timeout.aborted) throw new CodingError(`${what} timed out after ${seconds}s (raise ${key})`, 'timeout', true);
      throw err;
    }
  }

  /** Turn a git error into a one-line CodingError a user can act on, with every token removed (git-failure.ts). */
  private gitFailure(err: unknown, ref: WorkspaceRef, action: string, branch?: string, remoteUrl?: string): CodingError {
    return gitFailure(err, action, { credentials: this.credentials, token_env: ref.token_env, branch, remote_url: remoteUrl });
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

export function parseShortstat(text: string): { files_changed: number; insertions: number; deletions: number } {
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  return {
    files_changed: num(/(\d+) files? changed/),
    insertions: num(/(\d+) insertions?\(\+\)/),
    deletions: num(/(\d+) deletions?\(-\)/),
  };
}

export function parseNameStatus(out: string): FileChange[] {
  const fields = out.split('\0').filter((f) => f.length > 0);
  const changes: FileChange[] = [];
  for (let i = 0; i < fields.length; ) {
    const code = fields[i++]!;
    const letter = code[0];
    if (letter === 'R') {
      const oldPath = fields[i++]!;
      changes.push({ path: fields[i++]!, status: 'renamed', old_path: oldPath });
    } else if (letter === 'C') {
      i++; // copied: the source is unchanged
      changes.push({ path: fields[i++]!, status: 'added' });
    } else {
      const status = letter === 'A' ? 'added' : letter === 'D' ? 'deleted' : 'modified';
      changes.push({ path: fields[i++]!, status });
    }
  }
  return changes;
}
