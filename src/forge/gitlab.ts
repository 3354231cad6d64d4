// Merge requests on GitLab (gitlab.com or self-managed: api_url https://<host>/api/v4), by its REST API
// (https://docs.gitlab.com/api/merge_requests/). A draft is a merge request whose title starts with "Draft:".
import type { ForgeApi } from './forge-api.js';
import type { FoundPullRequest, PullRequestFields, PullRequests } from './pull-requests.js';

interface MergeRequest {
  iid: number;
  web_url: string;
}

export class GitLabMergeRequests implements PullRequests {
  private readonly project: string;

  constructor(
    private readonly api: ForgeApi,
    repo: string,
  ) {
    this.project = encodeURIComponent(repo);
  }

  async defaultBranch(): Promise<string> {
    return (await this.api.request<{ default_branch: string }>('GET', `/projects/${this.project}`)).default_branch;
  }

  async findOpen(head: string, base: string): Promise<FoundPullRequest | undefined> {
    const query = new URLSearchParams({ state: 'opened', source_branch: head, target_branch: base });
    const requests = await this.api.request<MergeRequest[]>('GET', `/projects/${this.project}/merge_requests?${query}`);
    return requests[0] && found(requests[0]);
  }

  async create(head: string, base: string, fields: PullRequestFields): Promise<FoundPullRequest> {
    return found(
      await this.api.request<MergeRequest>('POST', `/projects/${this.project}/merge_requests`, {
        source_branch: head,
        target_branch: base,
        title: title(fields),
        description: fields.body,
      }),
    );
  }

  async update(number: number, base: string, fields: PullRequestFields): Promise<FoundPullRequest> {
    return found(await this.api.request<MergeRequest>('PUT', `/projects/${this.project}/merge_requests/${number}`, { target_branch: base, title: title(fields), description: fields.body }));
  }
}

const title = (fields: PullRequestFields) => (fields.draft && !/^draft:/i.test(fields.title) ? `Draft: ${fields.title}` : fields.title);
const found = (request: MergeRequest): FoundPullRequest => ({ number: request.iid, url: request.web_url });

export const gitlabHeaders = (token: string): Record<string, string> => ({ 'PRIVATE-TOKEN': token });
