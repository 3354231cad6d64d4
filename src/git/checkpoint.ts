// The checkpoint of a session's workspace that another host can read: one git bundle per session in a directory
// every worker mounts (coding.checkpoint.dir). It holds every local branch's commits that are not on the origin
// and a snapshot commit of the working tree (tracked and untracked changes) on the hidden ref
// refs/station/worktree, whose parent is HEAD and whose message names the checked-out branch. A worker that
// takes a session over clones the origin, fetches the bundle and puts branch, commits and changes back.
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CodingError } from '../core/errors.js';
import { runHardenedGit } from './hardening.js';
import { workingTreeId } from './working-tree.js';

const WORKTREE_REF = 'refs/station/worktree';
const GIT_TIMEOUT_MS = 120_000;
/** A fixed date makes the snapshot commit of the same state the same commit: saving twice writes the same bundle. */
const FIXED_DATE = '@0 +0000';

export class CheckpointStore {
  constructor(readonly dir: string) {}

  /** The bundle of one session (ids are made file-name safe the same injective way workspaces are). */
  file(sessionId: string): string {
    return join(this.dir, `${sessionId.replace(/[^A-Za-z0-9._-]/g, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}.bundle`);
  }

  /**
   * Write the workspace's checkpoint: snapshot commit, then the bundle to a temporary file renamed over the last
   * one (a reader sees the old bundle or the new one, never half of one). Safe to run twice.
   */
  async save(workspace: string, sessionId: string): Promise<void> {
    const head = await git(workspace, ['rev-parse', '--verify', '--quiet', 'HEAD']).catch(() => '');
    if (!head) return; // no commit yet: nothing a clone of the origin could not give back
    const branch = await git(workspace, ['symbolic-ref', '--quiet', '--short', 'HEAD']).catch(() => '');
    const tree = await workingTreeId((args, env) => git(workspace, args, env));
    const snapshot = await git(workspace, ['commit-tree', tree, '-p', head, '-m', `station checkpoint\n\nbranch: ${branch}`]);
    await git(workspace, ['update-ref', WORKTREE_REF, snapshot]);

    await mkdir(this.dir, { recursive: true });
    const target = this.file(sessionId);
    const temporary = `${target}.${process.pid}.${Date.now()}.tmp`;
    try {
      // Only what the origin lacks: the clone that restores it already has the rest.
      await git(workspace, ['bundle', 'create', '--quiet', temporary, '--branches', WORKTREE_REF, '--not', '--remotes=origin']);
      await rename(temporary, target);
    } finally {
      await rm(temporary, { force: true });
    }
  }

  /** Whether a checkpoint of the session exists. */
  async has(sessionId: string): Promise<boolean> {
    return (await stat(this.file(sessionId)).catch(() => undefined))?.isFile() ?? false;
  }

  /**
   * Put the checkpoint into `workspace`, a fresh clone of the session's origin: the branches, the checked-out
   * branch at its commit, the working-tree changes as uncommitted changes. Safe to run twice. Returns the branch.
   */
  async restore(workspace: string, sessionId: string): Promise<string | undefined> {
    const file = this.file(sessionId);
    if (!(await this.has(sessionId))) {
      throw new CodingError(`no checkpoint of session ${sessionId} in coding.checkpoint.dir (${this.dir}): the workspace cannot be re-created on another worker`, 'not_found');
    }
    await git(workspace, ['fetch', '--quiet', '--update-head-ok', file, '+refs/heads/*:refs/heads/*', `+${WORKTREE_REF}:${WORKTREE_REF}`]).catch((err: Error) => {
      throw new CodingError(`checkpoint ${file} cannot be applied to a clone of the origin (${firstLine(err)}); was the origin's history rewritten?`, 'conflict');
    });
    const message = await git(workspace, ['log', '-1', '--format=%B', WORKTREE_REF]);
    const branch = /^branch: (.+)$/m.exec(message)?.[1]?.trim() || undefined;
    const head = await git(workspace, ['rev-parse', `${WORKTREE_REF}^`]);
    await git(workspace, branch ? ['checkout', '--quiet', '--force', '-B', branch, head] : ['checkout', '--quiet', '--force', '--detach', head]);
    // Working tree = the snapshot, index = HEAD: the changes are back as uncommitted changes, new files untracked.
    await git(workspace, ['read-tree', '-u', '--reset', WORKTREE_REF]);
    await git(workspace, ['reset', '--quiet']);
    return branch;
  }

  /** Forget a session's checkpoint (its workspace was deleted on purpose). */
  async remove(sessionId: string): Promise<void> {
    await rm(this.file(sessionId), { force: true });
  }
}

async function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  const identity = { GIT_AUTHOR_NAME: 'station', GIT_AUTHOR_EMAIL: 'station@localhost', GIT_AUTHOR_DATE: FIXED_DATE };
  const committer = { GIT_COMMITTER_NAME: 'station', GIT_COMMITTER_EMAIL: 'station@localhost', GIT_COMMITTER_DATE: FIXED_DATE };
  // Hardened like every worker git: `git add` here must not run a filter or fsmonitor the workspace configured.
  return runHardenedGit(cwd, args, { ...identity, ...committer, ...env }, GIT_TIMEOUT_MS / 1000);
}

function firstLine(err: Error & { stderr?: string }): string {
  return (err.stderr || err.message).trim().split('\n').at(-1) ?? 'git failed';
}
