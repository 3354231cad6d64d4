// The session workflow's wire contract as language-neutral JSON Schema (draft 2020-12), generated from the zod
// schemas of contract.ts. Clients in other languages (Python, Go, ...) validate against the files in schemas/,
// which `npm run schemas` writes from this function and a test keeps in sync.
// What JSON Schema cannot say is checked by the worker only: zod's refine/superRefine rules (branch names,
// repo URLs, workspace paths, scope_id required for scope "workflow", repo_url xor workspace_path, credentials
// keys other than token_env) appear here as plain strings and objects.
import { z } from 'zod';
import {
  BranchInput,
  BranchResult,
  CancelInput,
  CheckInput,
  ChecksResult,
  CloseInput,
  CloseResult,
  CodeInput,
  CodeResult,
  CommitInput,
  CommitResult,
  DiffInput,
  DiffResult,
  PrInput,
  PrResult,
  FAILURE_TYPES,
  OpenInput,
  OpenResult,
  PushInput,
  PushResult,
  QUERY_STATUS,
  ReviewInput,
  ReviewResult,
  SIGNAL_REVIEW,
  SessionStatus,
  SIGNAL_CANCEL,
  UPDATES,
  WORKFLOW_TYPE,
} from './contract.js';

export const SCHEMA_ID_BASE = 'https://station-coding/schemas/';

/** Every contract file, keyed by file name: JSON Schemas of the inputs and results, and the contract.json index. */
export function contractSchemas(): Record<string, object> {
  const files: Record<string, object> = {};
  const add = (file: string, title: string, schema: z.ZodType, io: 'input' | 'output'): string => {
    const { $schema, ...rest } = z.toJSONSchema(schema, { io });
    files[file] = { $schema, $id: SCHEMA_ID_BASE + file, title, ...rest };
    return file;
  };

  const start_input = add('start.input.json', `${WORKFLOW_TYPE} workflow start input`, OpenInput, 'input');
  const pairs = {
    [UPDATES.open]: [OpenInput, OpenResult],
    [UPDATES.code]: [CodeInput, CodeResult],
    [UPDATES.branch]: [BranchInput, BranchResult],
    [UPDATES.commit]: [CommitInput, CommitResult],
    [UPDATES.push]: [PushInput, PushResult],
    [UPDATES.diff]: [DiffInput, DiffResult],
    [UPDATES.pr]: [PrInput, PrResult],
    [UPDATES.check]: [CheckInput, ChecksResult],
    [UPDATES.review]: [ReviewInput, ReviewResult],
    [UPDATES.close]: [CloseInput, CloseResult],
  } satisfies Record<(typeof UPDATES)[keyof typeof UPDATES], [z.ZodType, z.ZodType]>;
  const updates: Record<string, { input: string; result: string }> = {};
  for (const [name, [input, result]] of Object.entries(pairs)) {
    updates[name] = {
      input: add(`${name}.input.json`, `${name} update input`, input, 'input'),
      result: add(`${name}.result.json`, `${name} update result`, result, 'output'),
    };
  }
  const status = add(`${QUERY_STATUS}.result.json`, `${QUERY_STATUS} query result`, SessionStatus, 'output');
  const cancel = add(`${SIGNAL_CANCEL}.input.json`, `${SIGNAL_CANCEL} signal input`, CancelInput, 'input');

  files['contract.json'] = {
    workflow_type: WORKFLOW_TYPE,
    updates,
    query: { name: QUERY_STATUS, result: status },
    signal: { name: SIGNAL_CANCEL, input: cancel },
    // Every signal: cancel (as `signal` above, kept for clients that read it) and review (the review update's input).
    signals: { [SIGNAL_CANCEL]: { input: cancel }, [SIGNAL_REVIEW]: { input: updates[UPDATES.review]!.input } },
    start_input,
    failure_types: FAILURE_TYPES,
  };
  return files;
}
