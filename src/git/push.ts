// Push one branch with the token configured for the push URL's host, and only after the checks that keep the token
// from going anywhere else: one push URL, no .git/config key that could redirect it, no hook beside it.
import type { PushRequest, PushResult } from '../contract.js';
import { CodingError } from '../core/errors.js';
import { riskyLocalConfigKeys } from './credentials.js';
import type { WorkspaceGit, WorkspaceRef } from './workspace-git.js';

export async function push(ws: WorkspaceGit, ref: WorkspaceRef, req: PushRequest, signal: AbortSignal): Promise<PushResult> {
  await ws.assertExists(ref);
  const git = await ws.git(ref.workspace_path, signal);
  const remotes = (await git.raw(['remote'])).split('\n').map((r) => r.trim()).filter(Boolean);
  if (!remotes.includes(req.remote)) {
    throw new CodingError(`remote '${req.remote}' does not exist in the workspace (remotes: ${remotes.join(', ') || 'none'})`, 'not_found');
  }
  const branch = req.branch ?? (await ws.currentBranch(ref.workspace_path, signal));
  if (!branch) throw new CodingError('HEAD is detached: give the branch to push', 'invalid_input');
  if (!(await ws.refExists(git, `refs/heads/${branch}`))) {
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
    await ws.withTimeout(ws.settings.push_timeout_sec, 'push', 'coding.push_timeout_sec', signal, (s) =>
      ws.authedGit(ref.workspace_path, ref, remoteUrl, ws.settings.push_timeout_sec, s).then((git) => git.raw(args)),
    );
  } catch (err) {
    throw ws.failure(err, ref, `push ${branch} to ${req.remote}`, undefined, remoteUrl);
  }
  const hash = (await git.raw(['rev-parse', `refs/heads/${branch}`])).trim();
  return { success: true, remote: req.remote, branch, commit_hash: hash, set_upstream: req.set_upstream };
}
