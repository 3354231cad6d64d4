// coding_pr: open a pull request for the session's branch, or update the open one. Idempotent by construction:
// whatever ran before (a retry after a lost answer, a second call), it first looks for an open pull request from
// this branch into this base, and updates it if there is one, so a branch never gets two.
import type { PrRequest, PrResult, TaskRecord } from '../contract.js';
import { CodingError } from '../core/errors.js';
import type { ForgeKind, GitCredentials } from '../git/host-credentials.js';
import { ForgeApi } from './forge-api.js';
import { GitHubPullRequests, githubHeaders } from './github.js';
import { GitLabMergeRequests, gitlabHeaders } from './gitlab.js';
import { GiteaPullRequests, giteaHeaders } from './gitea.js';
import { pullRequestBody } from './pr-body.js';
import { repositoryPath, type PullRequests } from './pull-requests.js';

/** What the workflow knows of the session, and the caller's request. */
export interface PullRequestOrder {
  session_id: string;
  repo_url?: string;
  /** The session's branch: the pull request's head. */
  branch?: string;
  /** The branch the session opened on (the default base). */
  start_branch?: string;
  title?: string;
  token_env?: string;
  tasks: TaskRecord[];
  tasks_run: number;
  cost: number;
  request: PrRequest;
}

export async function openPullRequest(order: PullRequestOrder, credentials: GitCredentials, redact: (text: string) => string, signal: AbortSignal): Promise<PrResult> {
  const { request } = order;
  if (!order.repo_url) throw new CodingError('coding_pr: the session has no repository (it was opened on a workspace without repo_url)', 'invalid_input');
  const head = order.branch;
  if (!head) throw new CodingError('coding_pr: the session is on no branch: create one with coding_branch, commit and push it first', 'invalid_input');
  const site = credentials.forgeFor(order.repo_url);
  if (!site) {
    throw new CodingError(
      `coding_pr: no forge is configured for the host of ${order.repo_url}: give its entry in coding.git.credentials a forge (github, gitlab or gitea) and, where not the default, an api_url`,
      'invalid_input',
    );
  }
  const token = credentials.tokenFor(order.repo_url, order.token_env);
  if (!token) throw new CodingError(`coding_pr: no token is configured for the host of ${order.repo_url} (coding.git.credentials or coding.git.token_env)`, 'auth');

  const repo = repositoryPath(order.repo_url);
  const forge = FORGES[site.forge];
  const pulls = forge.pulls(new ForgeApi(site.api_url, forge.headers(token), token, signal), repo);
  const base = request.base ?? order.start_branch ?? (await pulls.defaultBranch());
  if (base === head) throw new CodingError(`coding_pr: the session's branch is ${head}, the base itself: work on a branch of its own (coding_branch) to open a pull request`, 'invalid_input');
  const fields = {
    title: redact(request.title ?? order.title ?? firstInstruction(order.tasks) ?? `station-coding: ${head}`),
    body: redact(request.body ?? pullRequestBody(order)),
    draft: request.draft,
  };
  const open = await pulls.findOpen(head, base);
  try {
    const pull = open ? await pulls.update(open.number, base, fields) : await pulls.create(head, base, fields);
    return { url: pull.url, number: pull.number, forge: site.forge, head, base, created: !open };
  } catch (err) {
    if (err instanceof CodingError && (err.kind === 'not_found' || err.kind === 'conflict') && !open) {
      throw new CodingError(`${err.message}: is ${head} pushed? (coding_push first)`, err.kind, err.retryable);
    }
    throw err;
  }
}

/** Each forge: the headers its API wants, and its pull requests over that API. */
const FORGES: Record<ForgeKind, { headers(token: string): Record<string, string>; pulls(api: ForgeApi, repo: string): PullRequests }> = {
  github: { headers: githubHeaders, pulls: (api, repo) => new GitHubPullRequests(api, repo) },
  gitlab: { headers: gitlabHeaders, pulls: (api, repo) => new GitLabMergeRequests(api, repo) },
  gitea: { headers: giteaHeaders, pulls: (api, repo) => new GiteaPullRequests(api, repo) },
};

function firstInstruction(tasks: TaskRecord[]): string | undefined {
  const text = tasks[0]?.instruction.replace(/\s+/g, ' ').trim();
  return text ? (text.length > 120 ? `${text.slice(0, 119)}…` : text) : undefined;
}
