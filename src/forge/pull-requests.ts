// What coding_pr needs of a forge, whichever it is: the repository's default branch, the open pull request from
// one branch into another (if any), and opening or updating one.
import { CodingError } from '../core/errors.js';

export interface PullRequestFields {
  title: string;
  body: string;
  draft: boolean;
}

export interface FoundPullRequest {
  number: number;
  url: string;
}

export interface PullRequests {
  defaultBranch(): Promise<string>;
  findOpen(head: string, base: string): Promise<FoundPullRequest | undefined>;
  create(head: string, base: string, fields: PullRequestFields): Promise<FoundPullRequest>;
  update(number: number, base: string, fields: PullRequestFields): Promise<FoundPullRequest>;
}

/** owner/name of a repository URL (https://host/owner/name(.git)); GitLab's groups may nest: every segment is kept. */
export function repositoryPath(repoUrl: string): string {
  const path = new URL(repoUrl).pathname.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  if (!path.includes('/')) throw new CodingError(`coding_pr: cannot tell the repository's owner and name from ${repoUrl} (expected https://host/owner/name)`, 'invalid_input');
  return path;
}
