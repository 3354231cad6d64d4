// The `opencode-nats` backend, in the Temporal worker: every session operation becomes a task message on a
// JetStream work queue (its round trip is in round-trip.ts); a coding agent (`station-coding nats-agent`, see
// agent/) does it with its local backend and answers. The workspace and the git token live on the agent.
//
//   open          -> <task>              any agent (durable consumer shared by all agents)
//   code, branch,
//   commit, push,
//   close         -> <task>.<agent>      only the agent holding the session (from the sessions KV bucket)
//   progress      <- <stream>.<taskID>   claimed / heartbeat (every second) / progress events, live
//   result        <- <result>.<taskID>   and the task record in the state KV bucket (task.<taskID>)
//   cancel        -> <stream>.cancel.<taskID>
//
// The task id is derived from the workflow id, run id, activity id and operation, never the attempt: a
// Temporal retry of the same operation finds the earlier attempt's record and is answered from it.
import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { Context } from '@temporalio/activity';
import { Backend, BranchResult, CheckResult, CodeResult, CommitResult, DiffResult, PushResult } from '../../contract.js';
import type { CodingConfig } from '../../config.js';
import type {
  CloseOperation,
  CloseOutcome,
  CodeOperation,
  CodeOutcome,
  CodingBackend,
  OpenOperation,
  OpenOutcome,
  SessionRef,
} from '../../core/backend.js';
import type { ProgressSink } from '../../core/runner.js';
import type { BranchRequest, Check, CommitRequest, DiffRequest, PushRequest } from '../../contract.js';
import { CodingError } from '../../core/errors.js';
import { openLink, readEntry, type NatsLink } from '../../nats/connection.js';
import { PROTOCOL_VERSION, SessionRecord, TaskMessage, encode, sessionKey, type Op, type TaskInput } from '../../nats/protocol.js';
import { sendTask } from './round-trip.js';

const OpenOutcomeWire = z.object({
  workspace_path: z.string(),
  repo_cloned: z.boolean(),
  managed: z.boolean(),
  branch: z.string().optional(),
  repo_url: z.string().optional(),
  /** The agent's own local backend (agents before this field say nothing). */
  agent_backend: Backend.optional(),
});
const CodeOutcomeWire = CodeResult.extend({ backend_session_id: z.string().optional() });
const CloseOutcomeWire = z.object({ workspace_deleted: z.boolean(), saved_to: z.string().optional() });

export class NatsBackend implements CodingBackend {
  readonly remote = true;
  private link?: Promise<NatsLink>;

  /** `name`: nats, or opencode-nats, its first name (the same backend). */
  constructor(
    private readonly config: CodingConfig,
    readonly name: 'nats' | 'opencode-nats' = 'nats',
  ) {}

  async shutdown(): Promise<void> {
    const link = this.link;
    this.link = undefined;
    await (await link?.catch(() => undefined))?.close();
  }

  async open(op: OpenOperation, signal: AbortSignal): Promise<OpenOutcome> {
    const result = await this.perform(
      {
        v: PROTOCOL_VERSION,
        op: 'open',
        ...taskIdentity('open'),
        session: op.session_id,
        repo_url: op.repo_url,
        branch: op.branch,
        workspace: op.workspace_path,
        ...(op.init ? { init: true } : {}),
        title: op.title,
        token_env: op.token_env,
      },
      undefined,
      signal,
    );
    return parseResult(OpenOutcomeWire, result, 'open');
  }

  async code(op: CodeOperation, progress: ProgressSink, signal: AbortSignal): Promise<CodeOutcome> {
    const base = await this.sessionTask(op.session, 'code');
    const result = await this.perform(
      {
        ...base,
        op: 'code',
        prompt: op.instruction,
        context: op.context,
        files: op.files,
        title: op.title,
        backend_session_id: op.session.backend_session_id,
        budget: op.budget && (op.budget.max_cost_usd !== undefined || op.budget.max_tokens !== undefined) ? op.budget : undefined,
        timeout: Math.max(1, Math.round(this.config.task_timeout_min * 60)),
      },
      base.agent,
      signal,
      progress,
    );
    const outcome = parseResult(CodeOutcomeWire, result, 'code');
    return { ...outcome, trace: { ...outcome.trace, backend: this.name } };
  }

  async branch(session: SessionRef, req: BranchRequest, signal: AbortSignal) {
    const base = await this.sessionTask(session, 'branch');
    return parseResult(BranchResult, await this.perform({ ...base, op: 'branch', branch: req.branch, create: req.create }, base.agent, signal), 'branch');
  }

  async commit(session: SessionRef, req: CommitRequest, signal: AbortSignal) {
    const base = await this.sessionTask(session, 'commit');
    return parseResult(CommitResult, await this.perform({ ...base, op: 'commit', message: req.message, add_all: req.add_all }, base.agent, signal), 'commit');
  }

  async push(session: SessionRef, req: PushRequest, signal: AbortSignal) {
    const base = await this.sessionTask(session, 'push');
    const task = { ...base, op: 'push' as const, remote: req.remote, branch: req.branch, set_upstream: req.set_upstream };
    return parseResult(PushResult, await this.perform(task, base.agent, signal), 'push');
  }

  async diff(session: SessionRef, req: DiffRequest, signal: AbortSignal) {
    const base = await this.sessionTask(session, 'diff');
    const task = { ...base, op: 'diff' as const, base: req.base, uncommitted: req.uncommitted, max_bytes: req.max_bytes };
    return parseResult(DiffResult, await this.perform(task, base.agent, signal), 'diff');
  }

  async check(session: SessionRef, checks: Check[], signal: AbortSignal): Promise<CheckResult[]> {
    const base = await this.sessionTask(session, 'check');
    return parseResult(z.array(CheckResult), await this.perform({ ...base, op: 'check', checks }, base.agent, signal), 'check');
  }

  async close(op: CloseOperation, signal: AbortSignal): Promise<CloseOutcome> {
    const base = await this.sessionTask(op.session, 'close');
    const result = await this.perform({ ...base, op: 'close', delete_workspace: op.delete_workspace }, base.agent, signal);
    return parseResult(CloseOutcomeWire, result, 'close');
  }

  // ---------------------------------------------------------------------------------------------------

  private connection(): Promise<NatsLink> {
    if (!this.link) {
      const link = openLink(this.config.nats, `station-coding worker ${hostname()}`);
      this.link = link;
      link.catch(() => {
        if (this.link === link) this.link = undefined; // try again on the next operation
      });
    }
    return this.link;
  }

  /** The fields of a task on an open session, routed to the agent that holds it (sessions KV bucket). */
  private async sessionTask(session: SessionRef, op: Op) {
    const link = await this.connection();
    const record = (await readEntry(link.sessions, sessionKey(session.session_id), SessionRecord))?.value;
    if (!record) {
      throw new CodingError(
        `session ${session.session_id} is not held by any coding agent (no record in the ${link.names.buckets.sessions} bucket): it was closed, or its agent's state was lost`,
        'not_found',
      );
    }
    return {
      v: PROTOCOL_VERSION,
      ...taskIdentity(op),
      session: session.session_id,
      agent: record.agent,
      workspace: session.workspace_path,
      token_env: session.token_env,
    };
  }

  /** Publish a task (unless an earlier attempt already did it or is doing it) and wait for its ending. */
  private async perform(input: TaskInput, agent: string | undefined, signal: AbortSignal, progress?: ProgressSink): Promise<unknown> {
    const parsed = TaskMessage.safeParse(input);
    if (!parsed.success) throw new CodingError(`cannot send the task: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'invalid_input');
    const task = parsed.data;
    const bytes = encode(task);
    const limit = this.config.nats.max_message_kb * 1024;
    if (bytes.length > limit) {
      throw new CodingError(`the ${task.op} task is ${bytes.length} bytes, more than agents accept (coding.nats.max_message_kb = ${this.config.nats.max_message_kb})`, 'invalid_input');
    }
    const link = await this.connection();
    const waits = { agentTimeoutMs: this.config.nats.agent_timeout_sec * 1000, openWaitMs: this.config.nats.open_wait_sec * 1000 };
    return sendTask(link, waits, task, agent, bytes, signal, progress);
  }
}

/** Task id from the activity: the same operation retried by Temporal gets the same id, a new one a new id. */
export function taskIdentity(op: Op): { taskID: string; attempt: number } {
  let info;
  try {
    info = Context.current().info;
  } catch {
    info = undefined; // not in an activity (a direct call): a one-off id
  }
  if (!info?.workflowExecution) return { taskID: `adhoc-${randomBytes(12).toString('hex')}`, attempt: info?.attempt ?? 1 };
  // The run id matters: after continue-as-new, activity ids start over in the new run.
  const { workflowId, runId } = info.workflowExecution;
  const taskID = createHash('sha256').update(['station-coding', workflowId, runId, info.activityId, op].join('\0')).digest('hex').slice(0, 32);
  return { taskID, attempt: info.attempt };
}

function parseResult<S extends z.ZodType>(schema: S, value: unknown, op: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new CodingError(`the agent's ${op} result does not match the contract: ${parsed.error.issues[0]?.message ?? 'invalid'}`, 'unavailable');
  return parsed.data;
}

