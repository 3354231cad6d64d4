// `station-coding run --repo <local path>` without --push: the session committed in its own clone, which close
// deletes. Before that, the branch is fetched from the clone into the user's repository, so the work lands where
// the user looks for it. Only a fast-forward (or a new branch) under the branch's own name; where that is refused
// (the user has it checked out, or it moved), under station/<session id>. Never a forced update.
import { stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { execa } from 'execa';
import { baseChildEnv } from '../process/spawn.js';

export interface BroughtBack {
  repository: string;
  branch: string;
}

/** Whether the session was opened on a repository at a path on this machine (not a URL). */
export function isLocalRepository(repoUrl: string | undefined): repoUrl is string {
  return repoUrl !== undefined && isAbsolute(repoUrl);
}

async function fetchInto(repository: string, from: string, source: string, target: string): Promise<boolean> {
  const result = await execa('git', ['-c', 'core.hooksPath=/dev/null', 'fetch', '--quiet', '--no-tags', from, `refs/heads/${source}:refs/heads/${target}`], {
    cwd: repository,
    env: baseChildEnv({ HOME: process.env.HOME, GIT_TERMINAL_PROMPT: '0' }),
    extendEnv: false,
    reject: false,
    timeout: 120_000,
    stdin: 'ignore',
  });
  return result.exitCode === 0;
}

/** Fetch `branch` of the session clone `workspace` into `repository`; throws a one-line reason when it cannot. */
export async function bringBranchBack(repository: string, workspace: string, branch: string, sessionId: string): Promise<BroughtBack> {
  if (!(await stat(join(workspace, '.git')).catch(() => undefined))) {
    throw new Error(`the session's clone ${workspace} is not on this machine (the worker runs elsewhere): push the branch with --push instead`);
  }
  if (await fetchInto(repository, workspace, branch, branch)) return { repository, branch };
  const fallback = `station/${sessionId}`;
  if (await fetchInto(repository, workspace, branch, fallback)) return { repository, branch: fallback };
  throw new Error(`could not fetch ${branch} from ${workspace} into ${repository}`);
}
