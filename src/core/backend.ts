// The one backend interface. A backend owns the workspace and git of a session (the seed's "Key Design"):
// local backends compose the shared LocalWorkspace with an AgentRunner (claudecode, opencode, opencode-cli);
// a remote backend (opencode-nats) implements the same operations on another machine.
import type {
  Backend as BackendName,
  Budget,
  BranchRequest,
  BranchResult,
  CodeRequest,
  CodeResult,
  CommitRequest,
  CommitResult,
  Check,
  CheckResult,
  DiffRequest,
  DiffResult,
  PushRequest,
  PushResult,
  TaskCheckpoint,
} from '../contract.js';
import type { ProgressSink } from './runner.js';

/** What every operation after open knows about its session (kept in the workflow, passed to activities). */
export interface SessionRef {
  session_id: string;
  backend: BackendName;
  workspace_path: string;
  managed: boolean;
  repo_url?: string;
  /** Name of the worker environment variable holding this session's git token (never the token). */
  token_env?: string;
  /** The backend's own session id, once a task has created one (Claude Code / OpenCode session). */
  backend_session_id?: string;
  /** Best-of-N: this is the copy of the workspace attempt `attempt` works in (its progress says so). */
  attempt?: number;
}

export interface OpenOperation {
  session_id: string;
  backend: BackendName;
  repo_url?: string;
  branch?: string;
  workspace_path?: string;
  /** git init a workspace_path that is not a repository yet (only on this explicit request). */
  init?: boolean;
  title?: string;
  token_env?: string;
}

export interface OpenOutcome {
  workspace_path: string;
  repo_cloned: boolean;
  managed: boolean;
  branch?: string;
  /** The repository the workspace belongs to (for an existing workspace: its origin). */
  repo_url?: string;
  /** A remote backend: the local backend its coding agent codes with. */
  agent_backend?: BackendName;
}

export interface CodeOperation extends CodeRequest {
  session: SessionRef;
  title?: string;
  /** What this task may still spend (the session budget minus what earlier tasks spent). */
  budget?: Budget;
  /** An earlier attempt of this task got this far (its worker died or shut down): continue from there. */
  resume?: TaskCheckpoint;
  /** Told where the task stands as it goes (its baseline, its spending), for the next attempt if this one dies. */
  checkpoint?: (checkpoint: TaskCheckpoint) => void;
  /** Less than the task timeout when the task waited for a free task slot first (the wait counts against it). */
  time_left_ms?: number;
}

export interface CodeOutcome extends CodeResult {
  /** Backend session id to resume next time. */
  backend_session_id?: string;
}

export interface CloseOperation {
  session: SessionRef;
  delete_workspace: boolean;
  /** When the close was first asked for (its first attempt): a save made since then is this close's own. */
  asked_at_ms?: number;
}

export interface CloseOutcome {
  workspace_deleted: boolean;
  /** Where the work the deleted workspace held and no remote had was saved (a git bundle and a patch). */
  saved_to?: string;
}

/**
 * Which operation of which session this is, the same on every attempt: lets a retried branch or commit find and
 * return what an earlier attempt did before its worker died (instead of failing with "already exists" or
 * "nothing to commit").
 */
export interface OperationRef {
  /** Stable across the attempts of one operation (on any worker, local activity or not), different for every other operation. */
  key: string;
}

/** Best-of-N: the copies of a session's workspace the attempts of one task work in (git/attempts.ts). */
export interface PreparedAttempts {
  /** The task's directory of copies. */
  dir: string;
  /** The session's working tree the attempts started from (a git tree id). */
  base: string;
  /** Attempt n works in workspaces[n - 1]. */
  workspaces: string[];
}

/** What one attempt changed from the base. */
export interface AttemptStat {
  n: number;
  /** Its working tree at the end (a git tree id). */
  tree: string;
  files: number;
  insertions: number;
  deletions: number;
}

export interface SettledAttempts {
  /** Where every attempt's changes were saved as a patch. */
  saved_to: string;
  /** The attempt whose changes the session's workspace now holds. */
  applied?: number;
}

/** A backend whose workspaces are on this worker can run the attempts of a best-of-N task side by side. */
export interface AttemptWorkspaces {
  /** Copies of the session's workspace for `count` attempts of one task, named by `label` (copies made before are kept). */
  prepare(session: SessionRef, label: string, count: number, signal: AbortSignal): Promise<PreparedAttempts>;
  measure(prepared: PreparedAttempts, signal: AbortSignal): Promise<AttemptStat[]>;
  /** Apply the chosen attempt (none: cancelled), save every attempt's changes, remove the copies. */
  settle(session: SessionRef, prepared: PreparedAttempts, chosen: AttemptStat | undefined, signal: AbortSignal): Promise<SettledAttempts>;
}

/** A backend whose workspaces another worker can re-create (a checkpoint store is configured): failover. */
export interface Restorable {
  /** This session's workspace is checkpointed (a managed clone of an origin). */
  checkpointed(session: SessionRef): boolean;
  /** Re-create the session's workspace on this worker from its origin and its checkpoint. */
  restore(session: SessionRef, signal: AbortSignal): Promise<{ workspace_path: string; branch?: string }>;
}

export interface CodingBackend {
  readonly name: BackendName;
  /** Its workspaces live on other machines (NATS agents): this worker keeps no checkpoint, host queue or task slot for them. */
  readonly remote: boolean;
  /** Set when it can run best-of-N attempts (its workspaces are on this worker). */
  readonly attempts?: AttemptWorkspaces;
  /** Set when its workspaces are checkpointed for failover (backends/checkpointed.ts). */
  readonly restorable?: Restorable;
  open(op: OpenOperation, signal: AbortSignal): Promise<OpenOutcome>;
  code(op: CodeOperation, progress: ProgressSink, signal: AbortSignal): Promise<CodeOutcome>;
  branch(session: SessionRef, req: BranchRequest, signal: AbortSignal, op?: OperationRef): Promise<BranchResult>;
  commit(session: SessionRef, req: CommitRequest, signal: AbortSignal, op?: OperationRef): Promise<CommitResult>;
  push(session: SessionRef, req: PushRequest, signal: AbortSignal): Promise<PushResult>;
  /** What the session changed (read-only: it may run beside a task). */
  diff(session: SessionRef, req: DiffRequest, signal: AbortSignal): Promise<DiffResult>;
  /** Run these checks in the session's workspace, inside the agent sandbox. */
  check(session: SessionRef, checks: Check[], signal: AbortSignal): Promise<CheckResult[]>;
  close(op: CloseOperation, signal: AbortSignal): Promise<CloseOutcome>;
}


/** The backends a worker serves, by name (host/registry.ts builds them from the config). */
export interface BackendRegistry {
  get(name: BackendName): CodingBackend;
  /** Every git token configured on this host, resolved when asked (for redaction of errors). */
  secrets(): string[];
}
