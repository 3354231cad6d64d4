// A local backend: the shared LocalWorkspace (clone, branch, commit, push, change detection, cleanup)
// composed with one AgentRunner (claudecode, opencode, opencode-cli) that does the coding.
import { addTokens, countedTokens, zeroTokens, type Backend as BackendName, type Budget, type BranchRequest, type Check, type CheckResult, type CommitRequest, type DiffRequest, type DiffResult, type PushRequest, type Tokens } from '../contract.js';
import type {
  CloseOperation,
  CloseOutcome,
  CodeOperation,
  CodeOutcome,
  CodingBackend,
  OpenOperation,
  OpenOutcome,
  OperationRef,
  SessionRef,
} from '../core/backend.js';
import { rm } from 'node:fs/promises';
import { runChecks, type CheckSettings } from '../checks/run-checks.js';
import type { AgentOutcome, AgentRunner, ProgressSink } from '../core/runner.js';
import { traced } from '../telemetry/task-span.js';
import { tracedChecks } from '../telemetry/checks-span.js';
import type { LocalWorkspace } from '../git/workspace.js';
import { markKept } from '../git/kept.js';
import { endTask, reapRecordedAgent, recordAgentStart, recordTaskStart } from '../process/agent-record.js';
import { Redactor } from '../secrets/redact.js';
import { CodingError } from '../core/errors.js';

export class LocalBackend implements CodingBackend {
  readonly remote = false;

  constructor(
    readonly name: BackendName,
    private readonly workspace: LocalWorkspace,
    private readonly runner: AgentRunner,
    private readonly taskTimeoutMs: number,
    /** Cuts the worker's secrets out of everything the agent hands back (progress, result, errors). */
    private readonly redactor: Redactor = new Redactor([]),
    /** Where checks run: the agents' walls, and how much output a result keeps. */
    private readonly checkSettings: CheckSettings = { output_bytes: 4000 },
  ) {}

  /** Best-of-N: the attempts' copies of the workspace are git work, the same for every local backend. */
  get attempts() {
    return this.workspace.attempts;
  }

  async check(session: SessionRef, checks: Check[], signal: AbortSignal): Promise<CheckResult[]> {
    await this.workspace.assertExists(session);
    const redactor = this.redactor.with(session.token_env ? process.env[session.token_env] : undefined);
    const results = await tracedChecks({ session_id: session.session_id, workspace: session.workspace_path }, () =>
      runChecks(checks, session.workspace_path, { ...this.checkSettings, redact: (text) => redactor.text(text) }, signal),
    );
    return redactor.deep(results);
  }

  async open(op: OpenOperation, signal: AbortSignal): Promise<OpenOutcome> {
    // The token itself is chosen by the workspace, per remote host, at the moment of use.
    return this.workspace.open(op, signal);
  }

  async code(op: CodeOperation, progress: ProgressSink, signal: AbortSignal): Promise<CodeOutcome> {
    return (await this.codeWithSnapshots(op, progress, signal)).outcome;
  }

  /** code(), and the two working-tree snapshots (git tree ids) its files_changed compares: a NATS agent stores their diff. */
  async codeWithSnapshots(op: CodeOperation, progress: ProgressSink, signal: AbortSignal): Promise<{ outcome: CodeOutcome; before: string; after: string }> {
    const ref = op.session;
    await this.workspace.assertExists(ref);
    if (op.files?.length) await this.workspace.checkFilesInside(ref, op.files);
    // One agent per workspace: what an earlier attempt (a worker killed with SIGKILL) left running goes first,
    // before the baseline is read, so a dead attempt's agent cannot write into this task.
    await reapRecordedAgent(ref.workspace_path);
    // A retried attempt counts its changes from the first attempt's baseline, and its spending on top of theirs.
    const before = op.resume?.baseline ?? (await this.workspace.snapshot(ref, signal));
    op.checkpoint?.({ baseline: before });
    const earlier = { tokens: op.resume?.tokens ?? zeroTokens(), cost: op.resume?.cost ?? 0 };
    const budget = new BudgetGuard(op.budget, earlier);
    const record = recordTaskStart(ref.workspace_path);
    let outcome: AgentOutcome;
    try {
      outcome = await this.runTask(op, progress, signal, budget, earlier, ref.workspace_path);
    } finally {
      // Every process the task started is gone when it ends, success included (an agent's `sleep 1000 &`).
      endTask(ref.workspace_path, record);
    }
    // Changes are read even after a cancel: whatever the agent did before it was stopped is in the workspace.
    const after = await this.workspace.snapshot(ref, AbortSignal.timeout(60_000));
    const files_changed = await this.workspace.changesBetween(ref, before, after, AbortSignal.timeout(60_000));
    const result: CodeOutcome = {
      success: outcome.success,
      summary: outcome.summary,
      ...(outcome.error ? { error: outcome.error } : {}),
      files_changed,
      trace: {
        backend: this.name,
        session_id: outcome.backend_session_id,
        tokens: addTokens(earlier.tokens, outcome.tokens),
        cost: earlier.cost + outcome.cost,
        duration_ms: outcome.duration_ms,
        ...(outcome.num_turns !== undefined ? { num_turns: outcome.num_turns } : {}),
        tool_calls: outcome.tool_calls,
      },
      backend_session_id: outcome.backend_session_id ?? op.session.backend_session_id,
    };
    return { outcome: result, before, after };
  }

  private runTask(op: CodeOperation, progress: ProgressSink, signal: AbortSignal, budget: BudgetGuard, earlier: { tokens: Tokens; cost: number }, workspace: string): Promise<AgentOutcome> {
    // The session's own token too (a configured variable not named like a secret).
    const redact = this.redactor.with(op.session.token_env ? process.env[op.session.token_env] : undefined);
    let observed = zeroTokens();
    return traced(this.name, { session_id: op.session.session_id, workspace: op.session.workspace_path }, async (span) => {
      const reported = span.progress(progress);
      const run = (conversation: string | undefined, prompt: string) =>
        this.runner.run({
          session_id: op.session.session_id,
          workspace_path: op.session.workspace_path,
          prompt,
          title: op.title,
          backend_session_id: conversation,
          timeout_ms: Math.min(this.taskTimeoutMs, op.time_left_ms ?? Infinity),
          signal: AbortSignal.any([signal, budget.signal]),
          progress: (event) => reported(redact.deep(event)),
          budget: op.budget,
          usage: (tokens, cost) => {
            budget.observe(tokens, cost);
            observed = tokens;
            op.checkpoint?.({ tokens: addTokens(earlier.tokens, tokens), cost: earlier.cost + cost });
          },
          traceparent: span.traceparent,
          onAgentStart: (pid) => recordAgentStart(workspace, pid),
          onBackendSession: (id) => op.checkpoint?.({ backend_session_id: id }),
        });
      // A retried attempt continues the conversation its predecessor ran in (the model sees what it already did).
      const interrupted = op.resume?.backend_session_id;
      const conversation = interrupted ?? op.session.backend_session_id;
      const outcome = await run(conversation, interrupted ? continuePrompt(op) : composePrompt(op))
        .catch((error: unknown) => {
          // The conversation is not on this worker (a failover, a deleted state): the task starts a new one.
          if (!(conversation && error instanceof CodingError && error.kind === 'not_found' && error.message.includes(conversation))) throw error;
          reported({ kind: 'text', text: `${this.name} conversation ${conversation} is not on this worker; starting a new conversation` });
          return run(undefined, composePrompt(op));
        })
        .catch((error: unknown) => {
          throw redact.error(error);
        });
      // What the runner counted at the end (read after its process stopped) reaches the checkpoint too, when it is
      // more than the last streamed count: a cancelled task's activity fails with what the checkpoint holds.
      if (countedTokens(outcome.tokens) > countedTokens(observed)) op.checkpoint?.({ tokens: addTokens(earlier.tokens, outcome.tokens), cost: earlier.cost + outcome.cost });
      return budget.judge(redact.deep(outcome));
    });
  }

  branch(session: SessionRef, req: BranchRequest, signal: AbortSignal, op?: OperationRef) {
    return this.workspace.branch(session, req, signal, op);
  }

  commit(session: SessionRef, req: CommitRequest, signal: AbortSignal, op?: OperationRef) {
    return this.workspace.commit(session, req, signal, op);
  }

  push(session: SessionRef, req: PushRequest, signal: AbortSignal) {
    return this.workspace.push(session, req, signal);
  }

  async diff(session: SessionRef, req: DiffRequest, signal: AbortSignal): Promise<DiffResult> {
    const result = await this.workspace.diff(session, req, signal);
    // The workspace may hold a secret the agent wrote into a file: never passed on to a reviewer.
    return this.redactor.with(session.token_env ? process.env[session.token_env] : undefined).deep(result);
  }

  async close(op: CloseOperation): Promise<CloseOutcome> {
    const ref = op.session;
    // What a best-of-N task that failed midway left of its attempts' copies.
    await rm(this.workspace.attemptsDir(ref.session_id), { recursive: true, force: true });
    if (!op.delete_workspace) {
      if (ref.managed) await markKept(ref.workspace_path, ref.session_id).catch(() => undefined); // gone already: nothing to keep
      return { workspace_deleted: false };
    }
    const removed = await this.workspace.remove(ref, op.asked_at_ms);
    return { workspace_deleted: removed.deleted, ...(removed.saved_to ? { saved_to: removed.saved_to } : {}) };
  }
}

/** Stops a task whose streamed usage crosses its budget, and says so in its outcome. */
class BudgetGuard {
  private readonly controller = new AbortController();
  private exceeded?: string;
  readonly signal = this.controller.signal;

  /** `earlier`: what earlier attempts of the same task spent, which counts against the same budget. */
  constructor(
    private readonly budget: Budget | undefined,
    private readonly earlier: { tokens: Tokens; cost: number },
  ) {}

  observe = (attemptTokens: Tokens, attemptCost: number): void => {
    if (this.exceeded || !this.budget) return;
    const tokens = addTokens(this.earlier.tokens, attemptTokens);
    const cost = this.earlier.cost + attemptCost;
    const { max_cost_usd, max_tokens } = this.budget;
    if (max_cost_usd !== undefined && cost > max_cost_usd) {
      this.exceeded = `budget exceeded: the task spent $${cost.toFixed(4)} with $${max_cost_usd.toFixed(4)} left (max_cost_usd)`;
    } else if (max_tokens !== undefined && countedTokens(tokens) > max_tokens) {
      this.exceeded = `budget exceeded: the task used ${countedTokens(tokens)} tokens with ${max_tokens} left (max_tokens)`;
    }
    if (this.exceeded) this.controller.abort();
  };

  /** A task we stopped for its budget failed for that reason, not because it was "cancelled". */
  judge(outcome: AgentOutcome): AgentOutcome {
    this.observe(outcome.tokens, outcome.cost);
    return this.exceeded ? { ...outcome, success: false, error: this.exceeded } : outcome;
  }
}

/** The prompt a coding agent gets: the instruction, then the caller's context and the files to focus on. */
export function composePrompt(op: { instruction: string; context?: string; files?: string[] }): string {
  const parts = [op.instruction.trim()];
  if (op.context?.trim()) parts.push(`Context:\n${op.context.trim()}`);
  if (op.files?.length) parts.push(`Focus on these files (relative to the workspace root):\n${op.files.map((f) => `- ${f}`).join('\n')}`);
  parts.push('Work only inside the current directory. Do not run git commit, git push or change branches: the session does that itself.');
  return parts.join('\n\n');
}

/** The same task for an attempt that continues an interrupted one in its conversation. */
function continuePrompt(op: { instruction: string; context?: string; files?: string[] }): string {
  return (
    'Your earlier attempt at this task was interrupted (its worker stopped) before it finished. What it did is in ' +
    'the workspace (and above in this conversation, when the conversation is there): check the workspace and ' +
    'continue from there instead of starting over.\n\n' +
    composePrompt(op)
  );
}
