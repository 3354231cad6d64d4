// The search attributes every session keeps current, so `temporal workflow list --query` and the Temporal UI
// can find sessions by backend, repository, branch, state, scope, cost and title. Workflow-safe (no I/O).
import { defineSearchAttributeKey } from '@temporalio/common';

export const SEARCH_ATTRIBUTES = {
  backend: defineSearchAttributeKey('CodingBackend', 'KEYWORD'),
  repo: defineSearchAttributeKey('CodingRepo', 'KEYWORD'),
  branch: defineSearchAttributeKey('CodingBranch', 'KEYWORD'),
  state: defineSearchAttributeKey('CodingState', 'KEYWORD'),
  scope: defineSearchAttributeKey('CodingScope', 'KEYWORD'),
  cost: defineSearchAttributeKey('CodingCost', 'DOUBLE'),
  title: defineSearchAttributeKey('CodingTitle', 'KEYWORD'),
} as const;
