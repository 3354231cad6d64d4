// Pull requests on Gitea and Forgejo (api_url https://<host>/api/v1), by its REST API (https://docs.gitea.com/api/;
// tested end to end against a real Gitea 1.27.3 in test/forge.test.ts). A draft is a pull request whose title
// starts with "WIP:".
import type { ForgeApi } from './forge-api.js';
import type { FoundPullRequest, PullRequestFields, PullRequests } from './pull-requests.js';

interface Pull {
  number: number;
  html_url: string;
  head?: { ref?: string };
  base?: { ref?: string };
}

const PAGE = 50;

export class GiteaPullRequests implements PullRequests {
  constructor(
    private readonly api: ForgeApi,
    private readonly repo: string,
  ) {}

  async defaultBranch(): Promise<string> {
    return (await this.api.request<{ default_branch: string }>('GET', `/repos/${this.repo}`)).default_branch;
  }

  async findOpen(head: string, base: string): Promise<FoundPullRequest | undefined> {
    // Gitea's list cannot filter by head branch: read the open ones page by page (newest first).
    for (let page = 1; page <= 20; page++) {
      const pulls = await this.api.request<Pull[]>('GET', `/repos/${this.repo}/pulls?state=open&sort=recentupdate&limit=${PAGE}&page=${page}`);
      const match = pulls.find((p) => p.head?.ref === head && p.base?.ref === base);
      if (match) return found(match);
      if (pulls.length < PAGE) return undefined;
    }
    return undefined;
  }

  async create(head: string, base: string, fields: PullRequestFields): Promise<FoundPullRequest> {
    return found(await this.api.request<Pull>('POST', `/repos/${this.repo}/pulls`, { head, base, title: title(fields), body: fields.body }));
  }

  async update(number: number, base: string, fields: PullRequestFields): Promise<FoundPullRequest> {
    return found(await this.api.request<Pull>('PATCH', `/repos/${this.repo}/pulls/${number}`, { base, title: title(fields), body: fields.body }));
  }
}

const title = (fields: PullRequestFields) => (fields.draft && !/^(wip|draft):/i.test(fields.title) ? `WIP: ${fields.title}` : fields.title);
const found = (pull: Pull): FoundPullRequest => ({ number: pull.number, url: pull.html_url });

export const giteaHeaders = (token: string): Record<string, string> => ({ Authorization: `token ${token}` });
