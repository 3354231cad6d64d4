// Open a session's workspace: a fresh clone (from the host's mirror of the repository when there is one), a new
// repository, a kept workspace re-attached, or a repository the caller names (inside the allowed roots).
import { mkdir, realpath, rm } from 'node:fs/promises';
import { CodingError } from '../core/errors.js';
import type { OpenOperation, OpenOutcome } from '../core/backend.js';
import { branch } from './branch.js';
import type { CloneCache } from './clone-cache.js';
import { hardenedGitForNewRepository, rememberWorkerConfig } from './hardening.js';
import { isKept } from './kept.js';
import type { WorkspaceGit, WorkspaceRef } from './workspace-git.js';
import { checkWorkspacePath } from './workspace-roots.js';
import { markSessionStart } from './diff.js';

/** What opening a workspace takes: the backend's open operation without what only the backend needs. */
export type OpenSpec = Omit<OpenOperation, 'backend' | 'title'>;

/** What opening a workspace gives: the backend's outcome without what only a remote backend says. */
export type Opened = Omit<OpenOutcome, 'agent_backend'>;

/** What opening needs of the workspace facade besides git. */
export interface OpenContext {
  cloneCache?: CloneCache;
  /** Where a managed workspace of this session lives. */
  managedPath: string;
  /** Remove what an earlier session of this id left (saving its unsaved work first). */
  removeLeftover(ref: WorkspaceRef): Promise<unknown>;
}

export async function open(ws: WorkspaceGit, ctx: OpenContext, spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
  const opened = await openWorkspace(ws, ctx, spec, signal);
  // Where the session starts: what coding_diff compares with by default.
  await markSessionStart(ws, opened.workspace_path, spec.session_id, signal);
  return opened;
}

async function openWorkspace(ws: WorkspaceGit, ctx: OpenContext, spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
  ws.credentials.check(spec.token_env);
  if (spec.workspace_path) return openExisting(ws, spec, signal);
  const path = ctx.managedPath;
  // A workspace an earlier session of this id kept is re-attached, never deleted by a re-open.
  if (await isKept(path)) return reattach(ws, path, spec, signal);
  // A retried open starts over; a workspace a dead session left behind has what it holds saved first.
  await ctx.removeLeftover({ session_id: spec.session_id, workspace_path: path, managed: true });
  await mkdir(ws.settings.base_path, { recursive: true });
  if (!spec.repo_url) {
    await mkdir(path, { recursive: true });
    await hardenedGitForNewRepository(path, signal, ws.settings.git_timeout_sec).raw(['init', '--initial-branch', spec.branch ?? 'main']);
    await rememberWorkerConfig(path);
    return { workspace_path: path, repo_cloned: false, managed: true, branch: spec.branch ?? 'main' };
  }
  const ref: WorkspaceRef = { session_id: spec.session_id, workspace_path: path, managed: true, repo_url: spec.repo_url, token_env: spec.token_env };
  const mirror = await mirrorOf(ws, ctx.cloneCache, ref, signal);
  // From the mirror (just fetched): a local clone that shares its objects, then pointed at the real remote.
  const args = ['clone', mirror ? '--shared' : '--no-local', ...(spec.branch ? ['--branch', spec.branch] : []), '--', mirror ?? spec.repo_url, path];
  try {
    await ws.withTimeout(ws.settings.clone_timeout_sec, 'clone', 'coding.clone_timeout_sec', signal, (s) =>
      ws.authedGit(ws.settings.base_path, ref, spec.repo_url, ws.settings.clone_timeout_sec, s).then((git) => git.raw(args)),
    );
    await rememberWorkerConfig(path);
    if (mirror) {
      await (await ws.git(path, signal)).raw(['remote', 'set-url', 'origin', spec.repo_url]);
      await rememberWorkerConfig(path);
    }
  } catch (err) {
    await rm(path, { recursive: true, force: true });
    throw ws.failure(err, ref, `clone ${spec.repo_url}`, spec.branch, spec.repo_url);
  }
  return { workspace_path: path, repo_cloned: true, managed: true, branch: await ws.currentBranch(path, signal), repo_url: spec.repo_url };
}

/** The repository's mirror in the clone cache, up to date; undefined without a cache or when it cannot be had. */
async function mirrorOf(ws: WorkspaceGit, cloneCache: CloneCache | undefined, ref: WorkspaceRef, signal: AbortSignal): Promise<string | undefined> {
  if (!cloneCache || !ref.repo_url) return undefined;
  const seconds = ws.settings.clone_timeout_sec;
  try {
    return await ws.withTimeout(seconds, 'clone', 'coding.clone_timeout_sec', signal, (s) =>
      cloneCache.mirrorFor(ref.repo_url!, async (cwd, args, s2) => (await ws.authedGit(cwd, ref, ref.repo_url, seconds, s2)).raw(args), s),
    );
  } catch {
    // The plain clone that follows reports the problem (auth, not found, ...) as it always did.
    return undefined;
  }
}

async function reattach(ws: WorkspaceGit, path: string, spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
  const origin = (await (await ws.git(path, signal)).raw(['remote', 'get-url', 'origin']).catch(() => '')).trim();
  if (spec.repo_url && origin !== spec.repo_url) {
    throw new CodingError(
      `the workspace ${path} that an earlier session ${spec.session_id} kept holds ${origin || 'a repository with no origin'}, not ${spec.repo_url}: open it with its own repo_url, or use another session/scope id (delete the directory yourself to start over)`,
      'conflict',
    );
  }
  if (spec.branch) await branch(ws, { session_id: spec.session_id, workspace_path: path, managed: true }, { branch: spec.branch, create: false }, signal);
  return { workspace_path: path, repo_cloned: false, managed: true, branch: await ws.currentBranch(path, signal), repo_url: origin || undefined };
}

async function openExisting(ws: WorkspaceGit, spec: OpenSpec, signal: AbortSignal): Promise<Opened> {
  const path = await checkWorkspacePath(spec.workspace_path!, { base_path: ws.settings.base_path, allowed: ws.settings.allowed_roots });
  const git = await ws.git(path, signal);
  const top = (await git.raw(['rev-parse', '--show-toplevel']).catch(() => '')).trim();
  if (!top) {
    if (!spec.init) {
      throw new CodingError(`workspace_path ${path} is not a git repository: give a repository, or set init: true to run git init there`, 'invalid_input');
    }
    await git.raw(['init', '--initial-branch', spec.branch ?? 'main']);
  } else if ((await realpath(top)) !== (await realpath(path))) {
    throw new CodingError(`workspace_path ${path} is inside the git repository ${top}: give the repository root`, 'invalid_input');
  }
  if (spec.branch) await branch(ws, { session_id: spec.session_id, workspace_path: path, managed: false }, { branch: spec.branch, create: false }, signal);
  const origin = (await git.raw(['remote', 'get-url', 'origin']).catch(() => '')).trim();
  return { workspace_path: path, repo_cloned: false, managed: false, branch: await ws.currentBranch(path, signal), repo_url: origin || undefined };
}
