// The opencode-nats wire protocol, version 1: every message, KV entry and object the Temporal-side backend
// and the coding agents (`station-coding nats-agent`) exchange, as zod schemas. Documented in docs/nats.md
// ("NATS mode"). Field names that Station's original NATS messages had keep their names: taskID, session,
// workspace, prompt, model, timeout, callback. Everything else is snake_case like the tool contract.
//
// Nothing here carries a secret: git tokens are named (token_env) and resolved on the agent; NATS
// credentials stay in the creds file of each process.
import { z } from 'zod';
import { BranchName, Check, DIFF_MAX_BYTES, RemoteName, SessionId, describeZodError, invalidRepoUrlReason, invalidWorkspaceRelativePathReason } from '../contract.js';
import type { CodingConfig } from '../config.js';

export const PROTOCOL_VERSION = 1 as const;
/** Task records and artifacts are kept this long (retries and redeliveries come within hours). */
export const STATE_TTL_MS = 7 * 24 * 3600_000;
/** Results bigger than this (serialized) travel through the object store; the message carries a reference. */
export const INLINE_RESULT_BYTES = 16 * 1024;
/** A task's own heartbeat on its progress subject. */
export const TASK_HEARTBEAT_MS = 1000;

type NatsSettings = CodingConfig['nats'];

// ---- names -------------------------------------------------------------------------------------------

export interface NatsNames {
  /** The JetStream work-queue stream holding tasks: subjects <task> and <task>.* */
  stream: string;
  /** New sessions (open): any agent takes them. */
  sharedSubject: string;
  /** Durable pull consumer on sharedSubject shared by every agent. */
  sharedConsumer: string;
  /** A session's later operations: only its agent reads this subject. */
  agentSubject(agent: string): string;
  agentConsumer(agent: string): string;
  progress(taskID: string): string;
  cancel(taskID: string): string;
  /** Every agent listens here for cancel requests. */
  cancelWildcard: string;
  result(taskID: string): string;
  /** Error replies to messages whose taskID could not be read. */
  rejected: string;
  buckets: { sessions: string; state: string; agents: string; objects: string };
}

export function natsNames(nats: NatsSettings): NatsNames {
  const { task, stream, result } = nats.subjects;
  return {
    stream: task.replace(/[^A-Za-z0-9_-]/g, '_').toUpperCase(),
    sharedSubject: task,
    sharedConsumer: 'coding-agents',
    agentSubject: (agent) => `${task}.${agent}`,
    agentConsumer: (agent) => `coding-agent-${agent}`,
    progress: (taskID) => `${stream}.${taskID}`,
    cancel: (taskID) => `${stream}.cancel.${taskID}`,
    cancelWildcard: `${stream}.cancel.*`,
    result: (taskID) => `${result}.${taskID}`,
    rejected: `${result}.rejected`,
    buckets: { sessions: nats.kv.sessions, state: nats.kv.state, agents: nats.kv.agents, objects: nats.object_store },
  };
}

/** KV keys allow [-/_=.A-Za-z0-9]; session ids may hold ':' and end with '.', so anything else becomes =XX. */
export function encodeKeyToken(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
export const sessionKey = (session: string) => `session.${encodeKeyToken(session)}`;
export const taskKey = (taskID: string) => `task.${taskID}`;
export const runningKey = (agent: string, taskID: string) => `running.${agent}.${taskID}`;
export const runningPrefix = (agent: string) => `running.${agent}.*`;
export const agentKey = (agent: string) => `agent.${agent}`;
export const diffObject = (taskID: string) => `tasks/${taskID}/diff.patch`;
export const resultObject = (taskID: string) => `tasks/${taskID}/result.json`;

// ---- shared field schemas ----------------------------------------------------------------------------

export const Subject = z
  .string()
  .max(256)
  .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a NATS subject of letters, digits, _ and - tokens (no wildcards, no $ subjects)');
export const TaskID = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8-64 letters, digits, _ or -');
export const AgentId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -');
const EnvVarName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name');
const check = (reasonOf: (v: string) => string | undefined) => (value: string, ctx: z.core.$RefinementCtx<string>) => {
  const reason = reasonOf(value);
  if (reason) ctx.addIssue({ code: 'custom', message: reason });
};
const AbsolutePath = z.string().max(4096).refine((p) => p.startsWith('/') && !p.includes('\0'), 'must be an absolute path');

export const OPS = ['open', 'code', 'branch', 'commit', 'push', 'diff', 'check', 'close'] as const;
export type Op = (typeof OPS)[number];

// ---- task messages (JetStream, <task> and <task>.<agent>) --------------------------------------------

const TaskBase = {
  v: z.literal(PROTOCOL_VERSION).describe('Protocol version.'),
  taskID: TaskID.describe('Idempotency key: the same operation retried keeps it (hash of workflow id, run id, activity id and op).'),
  attempt: z.number().int().positive().max(1000).default(1).describe('Temporal attempt: a retry after a retryable failure runs again; a redelivery of the same attempt never does.'),
  session: SessionId.describe('The coding session id.'),
  callback: Subject.optional().describe('Subject the result is published to (default <result>.<taskID>).'),
  timeout: z.number().int().positive().max(7 * 86400).optional().describe('Seconds the task may run (code tasks); the agent also applies its own limits.'),
  token_env: EnvVarName.optional().describe('Name of the agent environment variable holding the git token; never the token.'),
};

/** Operations on an open session carry the agent that holds it and the workspace it reported. */
const SessionTaskBase = {
  ...TaskBase,
  agent: AgentId.describe('The agent holding the session (from the sessions KV bucket).'),
  workspace: AbsolutePath.describe('Workspace path on the agent, as reported at open; checked against the agent’s own record.'),
};

export const OpenTask = z
  .object({
    ...TaskBase,
    op: z.literal('open'),
    repo_url: z.string().max(4096).superRefine(check(invalidRepoUrlReason)).optional(),
    branch: BranchName.optional(),
    workspace: AbsolutePath.optional().describe('An existing git repository on the agent (inside its workspace_base_path) instead of a managed clone.'),
    init: z.boolean().optional().describe('Run git init in `workspace` if it is not a repository yet.'),
    title: z.string().max(200).optional(),
  })
  .strict();

export const CodeTask = z
  .object({
    ...SessionTaskBase,
    op: z.literal('code'),
    prompt: z.string().min(1).max(100_000).describe('The instruction.'),
    context: z.string().max(100_000).optional(),
    files: z.array(z.string().max(4096).superRefine(check(invalidWorkspaceRelativePathReason))).max(200).optional(),
    title: z.string().max(200).optional(),
    model: z.string().max(200).optional().describe('Reserved: per-task model override. Not supported in v1: an agent refuses a task that sets it (its configured model is used).'),
    backend_session_id: z.string().max(200).optional().describe('The backend conversation to resume (the agent prefers its own record).'),
    budget: z
      .object({ max_cost_usd: z.number().positive().optional(), max_tokens: z.number().int().positive().optional() })
      .strict()
      .optional()
      .describe('What the task may still spend.'),
  })
  .strict();

export const BranchTask = z.object({ ...SessionTaskBase, op: z.literal('branch'), branch: BranchName, create: z.boolean() }).strict();
export const CommitTask = z.object({ ...SessionTaskBase, op: z.literal('commit'), message: z.string().min(1).max(20_000), add_all: z.boolean() }).strict();
export const PushTask = z
  .object({ ...SessionTaskBase, op: z.literal('push'), remote: RemoteName, branch: BranchName.optional(), set_upstream: z.boolean() })
  .strict();
export const DiffTask = z
  .object({ ...SessionTaskBase, op: z.literal('diff'), base: BranchName.optional(), uncommitted: z.boolean(), max_bytes: z.number().int().min(1000).max(DIFF_MAX_BYTES) })
  .strict();
export const CheckTask = z
  .object({ ...SessionTaskBase, op: z.literal('check'), checks: z.array(Check).min(1).max(20).describe('The checks to run in the workspace, inside the agent’s walls (already chosen by the worker).') })
  .strict();
export const CloseTask = z.object({ ...SessionTaskBase, op: z.literal('close'), delete_workspace: z.boolean() }).strict();

export const TaskMessage = z.discriminatedUnion('op', [OpenTask, CodeTask, BranchTask, CommitTask, PushTask, DiffTask, CheckTask, CloseTask]);
export type TaskMessage = z.output<typeof TaskMessage>;
export type TaskInput = z.input<typeof TaskMessage>;
export type SessionTask = Exclude<TaskMessage, { op: 'open' }>;

// ---- results (<result>.<taskID> or callback) and task records (state KV task.<taskID>) -----------------

export const ErrorInfo = z.object({
  code: z.string().max(64).describe('invalid_json, invalid_message, unsupported_version, too_large, not_routed, agent_lost, cancelled, or a backend error kind (git, auth, not_found, conflict, timeout, ...).'),
  message: z.string().max(4000),
  retryable: z.boolean(),
});
export type ErrorInfo = z.infer<typeof ErrorInfo>;

export const Artifact = z.object({
  kind: z.enum(['diff', 'result']),
  bucket: z.string(),
  name: z.string(),
  bytes: z.number().int().nonnegative(),
  digest: z.string().optional(),
});
export type Artifact = z.infer<typeof Artifact>;

export const TaskStatus = z.enum(['running', 'done', 'failed', 'cancelled']);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const TaskRecord = z.object({
  v: z.literal(PROTOCOL_VERSION),
  taskID: TaskID,
  op: z.enum(OPS),
  session: z.string(),
  attempt: z.number().int().positive(),
  status: TaskStatus,
  agent: z.string().optional().describe('The agent that claimed the task.'),
  incarnation: z.string().optional().describe('The agent process that claimed it (a restarted agent is a new incarnation).'),
  workspace: z.string().optional(),
  callback: z.string().optional(),
  claimed_at: z.string().optional(),
  finished_at: z.string().optional(),
  duration_ms: z.number().int().nonnegative().optional(),
  result: z.unknown().optional().describe('The operation’s result, inline when small.'),
  result_ref: Artifact.optional().describe('Where the result is when it is too large to inline.'),
  artifacts: z.array(Artifact).optional().describe('Large artifacts of the task (the full diff of a code task).'),
  error: ErrorInfo.optional(),
});
export type TaskRecord = z.infer<typeof TaskRecord>;

/** What every record of a task starts from: the task, not yet finished. */
export function taskRecordOf(task: TaskMessage): TaskRecord {
  return { v: PROTOCOL_VERSION, taskID: task.taskID, op: task.op, session: task.session, attempt: task.attempt, status: 'running' };
}

/** A task that will never finish: the agent on it stopped, or the agent it waits for is gone. Never run again. */
export function lostRecord(record: TaskRecord, message: string): TaskRecord {
  return { ...record, status: 'failed', finished_at: new Date().toISOString(), error: { code: 'agent_lost', message, retryable: false } };
}

export const ResultMessage = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.literal('result'),
  taskID: z.string().optional().describe('Absent only when a rejected message had no readable taskID.'),
  op: z.string().optional(),
  session: z.string().optional(),
  agent: z.string(),
  status: z.enum(['done', 'failed', 'cancelled', 'rejected']),
  attempt: z.number().int().positive().optional(),
  result: z.unknown().optional(),
  result_ref: Artifact.optional(),
  artifacts: z.array(Artifact).optional(),
  error: ErrorInfo.optional(),
  duration_ms: z.number().int().nonnegative().optional(),
});
export type ResultMessage = z.infer<typeof ResultMessage>;

// ---- progress (<stream>.<taskID>) and cancel (<stream>.cancel.<taskID>) ------------------------------

export const ProgressMessage = z.object({
  v: z.literal(PROTOCOL_VERSION),
  type: z.enum(['claimed', 'heartbeat', 'progress']),
  taskID: z.string(),
  agent: z.string(),
  incarnation: z.string().optional(),
  seq: z.number().int().nonnegative().optional(),
  event: z.object({ kind: z.enum(['tool_call', 'tool_result', 'text']), tool: z.string().optional(), text: z.string() }).optional(),
});
export type ProgressMessage = z.infer<typeof ProgressMessage>;

export const CancelRequest = z.object({ v: z.literal(PROTOCOL_VERSION), type: z.literal('cancel'), taskID: TaskID });
export const CancelReply = z.object({ v: z.literal(PROTOCOL_VERSION), type: z.literal('cancel_ack'), taskID: z.string(), agent: z.string(), found: z.boolean() });

// ---- KV records ---------------------------------------------------------------------------------------

export const SessionRecord = z.object({
  v: z.literal(PROTOCOL_VERSION),
  session: z.string(),
  agent: z.string(),
  workspace: z.string(),
  managed: z.boolean(),
  repo_url: z.string().optional(),
  backend: z.string().describe('The local backend the agent codes with.'),
  backend_session_id: z.string().optional(),
  opened_at: z.string(),
  updated_at: z.string(),
});
export type SessionRecord = z.infer<typeof SessionRecord>;

export const AgentRecord = z.object({
  v: z.literal(PROTOCOL_VERSION),
  agent: z.string(),
  incarnation: z.string(),
  backend: z.string(),
  host: z.string(),
  pid: z.number().int(),
  concurrency: z.number().int(),
  running: z.array(z.string()),
  started_at: z.string(),
  seen_at: z.string(),
});
export type AgentRecord = z.infer<typeof AgentRecord>;

/** state KV running.<agent>.<taskID>: written when an agent starts a task, deleted when it is recorded. */
export const RunningMarker = z.object({ v: z.literal(PROTOCOL_VERSION), taskID: z.string(), incarnation: z.string(), workspace: z.string().optional() });

// ---- decoding -----------------------------------------------------------------------------------------

export type DecodedTask =
  | { ok: true; task: TaskMessage }
  | { ok: false; error: ErrorInfo; taskID?: string; callback?: string; session?: string; op?: string };

/** Read a task message without ever throwing: size, JSON, version, then the schema. */
export function decodeTask(data: Uint8Array, maxBytes: number): DecodedTask {
  let raw: unknown;
  let text: string | undefined;
  const fail = (code: string, message: string): DecodedTask => ({ ok: false, error: { code, message, retryable: false }, ...salvage(raw) });
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  if (data.length > maxBytes) return fail('too_large', `task message of ${data.length} bytes is larger than the agent accepts (${maxBytes} bytes, coding.nats.max_message_kb)`);
  if (text === undefined) return fail('invalid_json', 'task message is not UTF-8 text');
  if (raw === undefined) return fail('invalid_json', 'task message is not valid JSON');
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return fail('invalid_message', 'task message must be a JSON object');
  const v = (raw as { v?: unknown }).v;
  if (v !== PROTOCOL_VERSION) return fail('unsupported_version', `task message version ${JSON.stringify(v ?? null)} is not supported (this agent speaks v${PROTOCOL_VERSION})`);
  const parsed = TaskMessage.safeParse(raw);
  if (!parsed.success) return fail('invalid_message', `invalid task message: ${describeZodError(parsed.error)}`.slice(0, 2000));
  return { ok: true, task: parsed.data };
}

/** What can be read from a rejected message to address the error reply: a valid taskID and callback only. */
function salvage(raw: unknown): { taskID?: string; callback?: string; session?: string; op?: string } {
  if (!raw || typeof raw !== 'object') return {};
  const r = raw as Record<string, unknown>;
  const out: { taskID?: string; callback?: string; session?: string; op?: string } = {};
  if (TaskID.safeParse(r.taskID).success) out.taskID = r.taskID as string;
  if (Subject.safeParse(r.callback).success) out.callback = r.callback as string;
  if (SessionId.safeParse(r.session).success) out.session = r.session as string;
  if (typeof r.op === 'string' && (OPS as readonly string[]).includes(r.op)) out.op = r.op;
  return out;
}

export function encode(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Parse a JSON message with a schema, or undefined (foreign or broken messages are ignored, never thrown). */
export function decodeWith<S extends z.ZodType>(schema: S, data: Uint8Array): z.output<S> | undefined {
  try {
    const parsed = schema.safeParse(JSON.parse(new TextDecoder().decode(data)));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export const isFinal = (record: TaskRecord) => record.status !== 'running';

/** A final record answers a task, unless it is a retryable failure of an earlier attempt (a retry runs again). */
export function answers(record: TaskRecord, attempt: number): boolean {
  if (!isFinal(record)) return false;
  return !(record.status === 'failed' && record.error?.retryable && attempt > record.attempt);
}
