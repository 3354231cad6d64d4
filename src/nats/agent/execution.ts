// Doing a task's operation with the agent's LocalBackend (the code the local backends use) on the session's
// workspace: the session record in the sessions bucket, the checks on what a message may ask (workspace,
// token variable, model), and the error a task reports (redacted).
import { resolve, sep } from 'node:path';
import type { CodingConfig } from '../../config.js';
import type { SessionRef } from '../../core/backend.js';
import type { ProgressSink } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import { LocalBackend } from '../../backends/local.js';
import type { LocalBackendRegistry } from '../../host/registry.js';
import { redact } from '../../git/credentials.js';
import { errorLine } from '../../text.js';
import { readEntry } from '../connection.js';
import { PROTOCOL_VERSION, SessionRecord, encode, sessionKey, type Artifact, type ErrorInfo, type SessionTask, type TaskMessage } from '../protocol.js';
import { storeDiff } from './artifacts.js';
import type { AgentContext } from './context.js';

export interface Performed {
  result: unknown;
  artifacts: Artifact[];
}

export class Execution {
  private readonly backend: LocalBackend;

  constructor(
    private readonly ctx: AgentContext,
    private readonly config: CodingConfig,
    private readonly registry: LocalBackendRegistry,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const backend = registry.get(config.nats.agent.backend);
    // coding.nats.agent.backend names a local backend only (claudecode, opencode, opencode-cli).
    if (!(backend instanceof LocalBackend)) throw new CodingError(`coding.nats.agent.backend: ${backend.name} is not a local backend`, 'invalid_input');
    this.backend = backend;
  }

  async perform(task: TaskMessage, signal: AbortSignal, progress: ProgressSink): Promise<Performed> {
    const local = this.ctx.settings.agent.backend;
    if (task.op === 'open') {
      if (task.workspace) this.assertInsideBase(task.workspace);
      const opened = await this.backend.open(
        {
          session_id: task.session,
          backend: local,
          repo_url: task.repo_url,
          branch: task.branch,
          workspace_path: task.workspace,
          init: task.init,
          title: task.title,
          token_env: this.tokenEnv(task),
        },
        signal,
      );
      const now = new Date().toISOString();
      const record: SessionRecord = {
        v: PROTOCOL_VERSION,
        session: task.session,
        agent: this.ctx.id,
        workspace: opened.workspace_path,
        managed: opened.managed,
        ...(opened.repo_url ?? task.repo_url ? { repo_url: opened.repo_url ?? task.repo_url } : {}),
        backend: local,
        opened_at: now,
        updated_at: now,
      };
      await this.ctx.link.sessions.put(sessionKey(task.session), encode(record));
      return { result: { ...opened, agent_backend: local }, artifacts: [] };
    }
    const record = await this.sessionOf(task);
    const session: SessionRef = {
      session_id: task.session,
      backend: local,
      workspace_path: record.workspace,
      managed: record.managed,
      repo_url: record.repo_url,
      token_env: this.tokenEnv(task),
      backend_session_id: record.backend_session_id ?? (task.op === 'code' ? task.backend_session_id : undefined),
    };
    switch (task.op) {
      case 'code':
        return this.code(task, session, record, signal, progress);
      case 'branch':
        return { result: await this.backend.branch(session, { branch: task.branch, create: task.create }, signal), artifacts: [] };
      case 'commit':
        return { result: await this.backend.commit(session, { message: task.message, add_all: task.add_all }, signal), artifacts: [] };
      case 'push':
        return { result: await this.backend.push(session, { remote: task.remote, branch: task.branch, set_upstream: task.set_upstream }, signal), artifacts: [] };
      case 'diff':
        return { result: await this.backend.diff(session, { base: task.base, uncommitted: task.uncommitted, max_bytes: task.max_bytes }, signal), artifacts: [] };
      case 'check':
        return { result: await this.backend.check(session, task.checks, signal), artifacts: [] };
      case 'close': {
        const closed = await this.backend.close({ session, delete_workspace: task.delete_workspace });
        await this.ctx.link.sessions.delete(sessionKey(task.session));
        return { result: closed, artifacts: [] };
      }
    }
  }

  /** The error a task reports: a CodingError keeps its kind; anything else is retryable. Tokens are redacted. */
  errorInfo(err: unknown, task: TaskMessage): ErrorInfo {
    const token = this.registry.secrets();
    if (err instanceof CodingError) return { code: err.kind, message: redact(err.message, token).slice(0, 4000), retryable: err.retryable };
    const message = redact(errorLine(err), token).slice(0, 4000);
    return { code: 'unavailable', message, retryable: true };
  }

  private async code(
    task: Extract<TaskMessage, { op: 'code' }>,
    session: SessionRef,
    record: SessionRecord,
    signal: AbortSignal,
    progress: ProgressSink,
  ): Promise<Performed> {
    if (task.model !== undefined) {
      throw new CodingError(`model: a per-task model is not supported by protocol v${PROTOCOL_VERSION}; agent ${this.ctx.id} uses its configured model`, 'invalid_input');
    }
    const timeout = task.timeout ? AbortSignal.timeout(task.timeout * 1000) : undefined;
    const coded = await this.backend.codeWithSnapshots(
      { instruction: task.prompt, context: task.context, files: task.files, session, title: task.title, budget: task.budget },
      progress,
      timeout ? AbortSignal.any([signal, timeout]) : signal,
    );
    let outcome = coded.outcome;
    if (timeout?.aborted && !signal.aborted && outcome.error === 'cancelled') {
      outcome = { ...outcome, success: false, error: `timed out after ${task.timeout}s (the session's task timeout)` };
    }
    // The diff of the same two snapshots files_changed compares: the stored diff and the result always agree.
    const artifacts = await storeDiff(this.ctx, task, session.workspace_path, coded.before, coded.after);
    if (outcome.backend_session_id && outcome.backend_session_id !== record.backend_session_id) {
      const updated: SessionRecord = { ...record, backend_session_id: outcome.backend_session_id, updated_at: new Date().toISOString() };
      await this.ctx.link.sessions.put(sessionKey(task.session), encode(updated));
    }
    return { result: outcome, artifacts };
  }

  private async sessionOf(task: SessionTask): Promise<SessionRecord> {
    const { id, link } = this.ctx;
    const record = (await readEntry(link.sessions, sessionKey(task.session), SessionRecord))?.value;
    if (!record) throw new CodingError(`session ${task.session} is not open on agent ${id} (no record in the ${link.names.buckets.sessions} bucket)`, 'not_found');
    if (record.agent !== id) throw new CodingError(`session ${task.session} is held by agent ${record.agent}, not ${id}`, 'conflict');
    if (record.workspace !== task.workspace) {
      throw new CodingError(`workspace ${task.workspace} is not the workspace of session ${task.session} on agent ${id}`, 'invalid_input');
    }
    return record;
  }

  /** A task may name only the configured token variables, so a message cannot send another secret to a git host. */
  private tokenEnv(task: TaskMessage): string | undefined {
    const name = task.token_env;
    if (!name) return undefined;
    const { git } = this.config;
    const allowed = new Set([...this.ctx.settings.agent.allowed_token_envs, ...(git.token_env ? [git.token_env] : []), ...git.credentials.map((c) => c.token_env)]);
    if (!allowed.has(name)) {
      throw new CodingError(`credentials.token_env: ${name} is not allowed on agent ${this.ctx.id} (add it to coding.nats.agent.allowed_token_envs)`, 'invalid_input');
    }
    if (this.env[name] === undefined) throw new CodingError(`credentials.token_env: ${name} is not set in the environment of agent ${this.ctx.id}`, 'invalid_input');
    return name;
  }

  private assertInsideBase(path: string): void {
    const base = resolve(this.config.workspace_base_path);
    const full = resolve(path);
    // The base itself holds every session's workspace (and the agent's crash recovery sweeps it): never one session's.
    if (!full.startsWith(base + sep)) {
      throw new CodingError(`workspace_path ${path} is not inside this agent's workspace_base_path (${base}); the base itself is refused`, 'invalid_input');
    }
  }
}
