// Pull requests on GitHub (and GitHub Enterprise: api_url https://<host>/api/v3), by its REST API
// (https://docs.github.com/rest/pulls/pulls; each request here is checked against @octokit/openapi's description
// in test/unit/forge-spec.test.ts).
import type { ForgeApi } from './forge-api.js';
import type { FoundPullRequest, PullRequestFields, PullRequests } from './pull-requests.js';

interface Pull {
  number: number;
  html_url: string;
}

export class GitHubPullRequests implements PullRequests {
  private readonly owner: string;

  constructor(
    private readonly api: ForgeApi,
    private readonly repo: string,
  ) {
    this.owner = repo.split('/')[0]!;
  }

  async defaultBranch(): Promise<string> {
    return (await this.api.request<{ default_branch: string }>('GET', `/repos/${this.repo}`)).default_branch;
  }

  async findOpen(head: string, base: string): Promise<FoundPullRequest | undefined> {
    const query = new URLSearchParams({ state: 'open', head: `${this.owner}:${head}`, base, per_page: '10' });
    const pulls = await this.api.request<Pull[]>('GET', `/repos/${this.repo}/pulls?${query}`);
    return pulls[0] && found(pulls[0]);
  }

  async create(head: string, base: string, fields: PullRequestFields): Promise<FoundPullRequest> {
    return found(await this.api.request<Pull>('POST', `/repos/${this.repo}/pulls`, { title: fields.title, body: fields.body, head, base, draft: fields.draft }));
  }

  async update(number: number, base: string, fields: PullRequestFields): Promise<FoundPullRequest> {
    return found(await this.api.request<Pull>('PATCH', `/repos/${this.repo}/pulls/${number}`, { title: fields.title, body: fields.body, base }));
  }
}

const found = (pull: Pull): FoundPullRequest => ({ number: pull.number, url: pull.html_url });

export const githubHeaders = (token: string): Record<string, string> => ({
  Authorization: `Bearer ${token}`,
  Accept: 'application/vnd.github+json',
  'X-GitHub-Api-Version': '2022-11-28',
  'User-Agent': 'station-coding',
});
