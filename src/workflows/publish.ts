// The one place a session publishes its state where Temporal's own tools see it: the current details (the UI's
// markdown, not history), and the memo and search attributes (history events, so written only when they change).
import { setCurrentDetails, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { SessionStatus } from '../contract.js';
import { currentDetails } from './current-details.js';
import { SEARCH_ATTRIBUTES } from './search-attributes.js';

export class Publisher {
  /** What memo and search attributes last said (a new run publishes again). */
  private published?: string;

  /** `searchAttributes`: they exist on the cluster (the worker registered them). */
  publish(s: SessionStatus, searchAttributes: boolean): void {
    setCurrentDetails(currentDetails(s));
    const memo = { backend: s.backend, repo_url: s.repo_url, branch: s.branch, state: s.state, scope: s.scope, title: s.title, cost: s.cost, tasks_run: s.tasks_run };
    const published = JSON.stringify([memo, searchAttributes]);
    if (published === this.published) return;
    this.published = published;
    upsertMemo(memo);
    if (!searchAttributes) return;
    const pairs: SearchAttributeUpdatePair[] = [
      { key: SEARCH_ATTRIBUTES.state, value: s.state },
      { key: SEARCH_ATTRIBUTES.scope, value: s.scope },
      { key: SEARCH_ATTRIBUTES.cost, value: s.cost },
    ];
    if (s.backend) pairs.push({ key: SEARCH_ATTRIBUTES.backend, value: s.backend });
    if (s.repo_url) pairs.push({ key: SEARCH_ATTRIBUTES.repo, value: s.repo_url });
    if (s.branch) pairs.push({ key: SEARCH_ATTRIBUTES.branch, value: s.branch });
    if (s.title) pairs.push({ key: SEARCH_ATTRIBUTES.title, value: s.title });
    upsertSearchAttributes(pairs);
  }
}
