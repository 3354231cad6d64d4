// A local backend whose workspaces another worker can re-create (coding.checkpoint.dir, shared by every worker):
// after each operation that changes a workspace (open, a task, branch, commit, the applied attempt of best-of-N)
// its checkpoint is written to the store; deleting the workspace forgets it; restore re-creates it on this worker
// from the origin and the checkpoint. Wrapped around the backend, so the activities stay thin and a backend that
// keeps no checkpoint is the same backend without the wrapper.
import type {
  AttemptWorkspaces,
  CloseOperation,
  CodeOperation,
  CodingBackend,
  OpenOperation,
  OperationRef,
  Restorable,
  SessionRef,
} from '../core/backend.js';
import type { ProgressSink } from '../core/runner.js';
import type { BranchRequest, Check, CommitRequest, DiffRequest, PushRequest } from '../contract.js';
import { CodingError } from '../core/errors.js';
import type { CheckpointStore } from '../git/checkpoint.js';

export class CheckpointedBackend implements CodingBackend {
  readonly remote = false;
  readonly attempts?: AttemptWorkspaces;

  constructor(
    private readonly inner: CodingBackend,
    private readonly store: CheckpointStore,
    /** A checkpoint that could not be written is said here (the operation itself succeeded). */
    private readonly warn: (message: string) => void,
  ) {
    const attempts = inner.attempts;
    if (attempts) {
      this.attempts = {
        prepare: (session, label, count, signal) => attempts.prepare(session, label, count, signal),
        measure: (prepared, signal) => attempts.measure(prepared, signal),
        settle: (session, prepared, chosen, signal) => this.saving(session, attempts.settle(session, prepared, chosen, signal)),
      };
    }
  }

  get name() {
    return this.inner.name;
  }

  /** Only a managed clone of an origin can be re-created elsewhere (and a best-of-N attempt's copy is not one). */
  readonly restorable: Restorable = {
    checkpointed: (session) => session.managed && !!session.repo_url,
    restore: async (session, signal) => {
      if (!(await this.store.has(session.session_id))) {
        throw new CodingError(`no checkpoint of session ${session.session_id} in coding.checkpoint.dir (${this.store.dir})`, 'not_found');
      }
      const opened = await this.inner.open({ session_id: session.session_id, backend: session.backend, repo_url: session.repo_url, token_env: session.token_env }, signal);
      const branch = await this.store.restore(opened.workspace_path, session.session_id);
      return { workspace_path: opened.workspace_path, ...(branch ? { branch } : {}) };
    },
  };

  async open(op: OpenOperation, signal: AbortSignal) {
    const opened = await this.inner.open(op, signal);
    const session = { session_id: op.session_id, backend: op.backend, workspace_path: opened.workspace_path, managed: opened.managed, repo_url: opened.repo_url ?? op.repo_url };
    return this.saving(session, Promise.resolve(opened));
  }

  code(op: CodeOperation, progress: ProgressSink, signal: AbortSignal) {
    return this.saving(op.session, this.inner.code(op, progress, signal));
  }

  branch(session: SessionRef, req: BranchRequest, signal: AbortSignal, op?: OperationRef) {
    return this.saving(session, this.inner.branch(session, req, signal, op));
  }

  commit(session: SessionRef, req: CommitRequest, signal: AbortSignal, op?: OperationRef) {
    return this.saving(session, this.inner.commit(session, req, signal, op));
  }

  push(session: SessionRef, req: PushRequest, signal: AbortSignal) {
    return this.inner.push(session, req, signal);
  }

  diff(session: SessionRef, req: DiffRequest, signal: AbortSignal) {
    return this.inner.diff(session, req, signal);
  }

  check(session: SessionRef, checks: Check[], signal: AbortSignal) {
    return this.inner.check(session, checks, signal);
  }

  async close(op: CloseOperation, signal: AbortSignal) {
    const closed = await this.inner.close(op, signal);
    if (closed.workspace_deleted && this.restorable.checkpointed(op.session)) await this.store.remove(op.session.session_id);
    return closed;
  }

  /** The operation's result, once the workspace's checkpoint is written (a failure to write it is only said). */
  private async saving<T>(session: SessionRef, operation: Promise<T>): Promise<T> {
    const result = await operation;
    if (this.restorable.checkpointed(session)) {
      await this.store.save(session.workspace_path, session.session_id).catch((err: Error) => this.warn(`checkpoint of session ${session.session_id} not written: ${err.message.split('\n')[0]}`));
    }
    return result;
  }
}
