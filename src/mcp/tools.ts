// The MCP tools: the seed's six tool operations plus coding_check, coding_diff, coding_pr, coding_review and coding_status, described from the zod contract.
// Each tool has a validation schema (the contract, with session_id required where a session is needed), a
// JSON Schema generated from it for tools/list, the contract's result schema as outputSchema, and a runner.
import { z } from 'zod';
import {
  BranchInput,
  BranchResult,
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
  OpenInput,
  OpenResult,
  PushInput,
  PushResult,
  ReviewInput,
  ReviewResult,
  SessionId,
  SessionStatus,
  type ProgressEvent, PrInput, PrResult
} from '../contract.js';
import type { CodingClient } from '../client/client.js';

export const TOOL_NAMES = ['coding_open', 'code', 'coding_branch', 'coding_commit', 'coding_push', 'coding_check', 'coding_diff', 'coding_pr', 'coding_review', 'coding_close', 'coding_status'] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

/** What a runner may use besides the client: progress reporting and the per-connection session bookkeeping. */
export interface ToolContext {
  /** Set when the MCP client sent a progressToken with the call. */
  onProgress?: (event: ProgressEvent) => void;
  /** Aborted when the client cancels the request or the connection ends. */
  signal: AbortSignal;
  /** True once the connection is ending (its agent-scope sessions are closed by the server, not by the tools). */
  connectionEnded: () => boolean;
}

export interface ToolDef {
  name: ToolName;
  title: string;
  description: string;
  /** Validates the arguments; its messages are the CLI's (`invalid <label>: field: problem`). */
  input: z.ZodType;
  /** How the client library names this input in its messages, e.g. 'coding_branch input'. */
  label: string;
  output: z.ZodObject;
  annotations?: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean };
  run(client: CodingClient, args: Record<string, unknown>, ctx: ToolContext): Promise<unknown>;
}

/** The contract's input schema with session_id required (the workflow knows its id; an MCP caller must name it). */
const withSession = <S extends z.ZodObject>(schema: S) =>
  schema.extend({ session_id: SessionId.describe('The coding session id, as returned by coding_open.') });

const StatusInput = z.object({ session_id: SessionId.describe('The coding session id, as returned by coding_open.') }).strict();

type Args = Record<string, unknown> & { session_id: string };

export const TOOLS: ToolDef[] = [
  {
    name: 'coding_open',
    title: 'Open a coding session',
    description:
      'Open a coding session on a git repository: clone repo_url (a private repository authenticates with the token named by ' +
      'credentials.token_env or the server config) into a managed workspace, or use workspace_path. Returns session_id, used by every ' +
      'other tool. scope "agent" (default): the session is closed when closed explicitly or when this MCP connection ends. ' +
      'scope "workflow" with a scope_id: the session outlives the connection, and coding_open with the same scope_id attaches to it (attached: true).',
    input: OpenInput,
    label: 'coding_open input',
    output: OpenResult,
    annotations: { destructiveHint: false, openWorldHint: true },
    run: (client, args) => client.open(args as never),
  },
  {
    name: 'code',
    title: 'Run a coding task',
    description:
      'Give the session’s coding agent (Claude Code, OpenCode, Codex, Gemini, Qwen Code or Copilot) a task in plain words; it edits files in the workspace. ' +
      'Returns success, a summary, the files changed and a trace (tool calls, tokens, cost, duration). Nothing is committed: use coding_commit. ' +
      'checks: true runs the session’s checks after it, fix_rounds gives failing checks back to the agent; attempts: N (and backends: [...]) tries the task N times side by side and applies the best attempt (checks passed, then fewer failed, smaller diff, lower cost), listing every attempt. ' +
      'Sends progress notifications with the agent’s tool calls when the request carries a progressToken; cancelling the request aborts the task.',
    input: withSession(CodeInput),
    label: 'code input',
    output: CodeResult,
    annotations: { destructiveHint: true, openWorldHint: true },
    run: async (client, args, ctx) => {
      const input = args as Args;
      // The client cancelled the request: abort the task. When the whole connection ends, the task of a
      // workflow-scope session keeps running (its result stays in coding_status); agent-scope ones are closed anyway.
      const abort = () => {
        if (!ctx.connectionEnded()) void client.cancel(input.session_id).catch(() => {});
      };
      ctx.signal.addEventListener('abort', abort, { once: true });
      try {
        return await client.code(input as never, ctx.onProgress);
      } finally {
        ctx.signal.removeEventListener('abort', abort);
      }
    },
  },
  {
    name: 'coding_branch',
    title: 'Create or switch a branch',
    description: 'Switch the session’s workspace to a branch, or create it from the current HEAD with create: true.',
    input: withSession(BranchInput),
    label: 'coding_branch input',
    output: BranchResult,
    annotations: { destructiveHint: false, openWorldHint: false },
    run: (client, args) => client.branch(args as never),
  },
  {
    name: 'coding_commit',
    title: 'Commit the changes',
    description: 'Commit the workspace’s changes (all of them by default) on the current branch. Returns the commit hash and its stats.',
    input: withSession(CommitInput),
    label: 'coding_commit input',
    output: CommitResult,
    annotations: { destructiveHint: false, openWorldHint: false },
    run: (client, args) => client.commit(args as never),
  },
  {
    name: 'coding_push',
    title: 'Push the branch',
    description: 'Push a branch (default: the current one) to the remote (default: origin), authenticated with the session’s git token.',
    input: withSession(PushInput),
    label: 'coding_push input',
    output: PushResult,
    annotations: { destructiveHint: false, openWorldHint: true },
    run: (client, args) => client.push(args as never),
  },
  {
    name: 'coding_check',
    title: 'Run the checks',
    description:
      'Run the session\'s checks (coding_open checks, else the worker\'s coding.checks; or the ones named) in the workspace, inside the agent sandbox: {passed, checks: [{name, passed, exit_code, duration_ms, output_tail}]}. ' +
      'To have them run after a task, and failing output given back to the agent, use code with checks: true and fix_rounds.',
    input: withSession(CheckInput),
    label: 'coding_check input',
    output: ChecksResult,
    annotations: { readOnlyHint: false, openWorldHint: false },
    run: (client, args) => client.check(args as never),
  },
  {
    name: 'coding_diff',
    title: 'What the session changed',
    description:
      'What the session changed, for a reviewer: the files with insertions and deletions, and the unified diff (cut at max_bytes, with a mark). ' +
      'From where the session started (or from where base, e.g. origin/main, and HEAD meet), to the working tree (uncommitted changes and new files included; uncommitted: false for commits only). Read-only; may run while a task works.',
    input: withSession(DiffInput),
    label: 'coding_diff input',
    output: DiffResult,
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: (client, args) => client.diff(args as never),
  },
  {
    name: 'coding_pr',
    title: 'Open the pull request',
    description:
      'Open a pull request (merge request) for the session\'s branch on its forge (GitHub, GitLab or Gitea, as configured for the repository\'s host), or update the open one for the same branches: a retry or a second call never opens a second. ' +
      'Push the branch first (coding_push). The description, when not given, is written from the session\'s tasks; every configured secret is cut out. {url, number, forge, head, base, created}.',
    input: withSession(PrInput),
    label: 'coding_pr input',
    output: PrResult,
    annotations: { destructiveHint: false, idempotentHint: true, openWorldHint: true },
    run: (client, args) => client.pr(args as never),
  },
  {
    name: 'coding_review',
    title: 'Approve or reject',
    description:
      'A reviewer\'s decision on the operation the session awaits approval for (status.awaiting_approval; sessions opened with require_approval). ' +
      'approve: it runs (the push). reject: it does not; with feedback the coding agent works on it, its changes are committed and the operation awaits approval again.',
    input: withSession(ReviewInput),
    label: 'review input',
    output: ReviewResult,
    annotations: { destructiveHint: false, openWorldHint: true },
    run: (client, args) => client.review(args as never),
  },
  {
    name: 'coding_close',
    title: 'Close the session',
    description:
      'Close the session. success (default true) drives cleanup_policy on_success; a managed workspace is deleted per the cleanup policy.',
    input: withSession(CloseInput),
    label: 'coding_close input',
    output: CloseResult,
    annotations: { destructiveHint: true, openWorldHint: false },
    run: (client, args) => client.close(args as never),
  },
  {
    name: 'coding_status',
    title: 'Session status',
    description: 'The session: backend, repository, branch, workspace, state, tasks run (each with success, files changed, tokens, cost), totals and last error.',
    input: StatusInput,
    label: 'coding_status input',
    output: SessionStatus,
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: (client, args) => client.status((args as Args).session_id),
  },
];

/**
 * The JSON Schema of a tool's input, from the zod contract (input side: defaults make a field optional,
 * every field keeps its description). draft-07, as the SDK writes it for its own zod schemas.
 */
export function inputJsonSchema(tool: ToolDef): Record<string, unknown> {
  const { $schema: _drop, ...json } = z.toJSONSchema(tool.input, { io: 'input', target: 'draft-7' }) as Record<string, unknown>;
  return json;
}

/**
 * What McpServer is given as inputSchema: an object schema that lets every argument object through (the handler
 * validates with the contract, so errors read exactly as the CLI's), carrying the contract's JSON Schema as zod
 * metadata, which z.toJSONSchema merges into its output, so tools/list shows the real schema.
 */
export function wireInputSchema(tool: ToolDef): z.ZodType {
  return z.looseObject({}).meta(inputJsonSchema(tool));
}

/** One line for a progress notification: "→ Write /ws/a.txt", "← Bash: ok", "· text". */
export function progressMessage(event: ProgressEvent): string {
  const label = event.kind === 'tool_call' ? `→ ${event.tool ?? 'tool'}` : event.kind === 'tool_result' ? `← ${event.tool ?? 'tool'}` : '·';
  const text = event.text.replace(/\s+/g, ' ').trim();
  return `${label} ${text.length > 500 ? `${text.slice(0, 500)}…` : text}`.trim();
}
