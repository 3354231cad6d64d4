// The agent runner interface: one coding task given to one agent CLI or server (runners/<agent>/), the part
// that differs between local backends. A runner knows nothing of git, workspaces' lifecycles or Temporal.
import type { Backend as BackendName, Budget, ProgressEvent, Tokens, ToolCall } from '../contract.js';

export type ProgressSink = (event: ProgressEvent) => void;

/** One coding task for an agent runner: the part that differs between local backends. */
export interface AgentTask {
  session_id: string;
  workspace_path: string;
  /** The full prompt (instruction, context and files already composed). */
  prompt: string;
  title?: string;
  /** Resume this backend session when set. */
  backend_session_id?: string;
  timeout_ms: number;
  signal: AbortSignal;
  progress: ProgressSink;
  /** What the task may spend, for runners whose CLI has its own guard (claude --max-budget-usd). */
  budget?: Budget;
  /** Runners report the task's running totals here as the backend streams them; crossing the budget aborts the task. */
  usage?: (tokens: Tokens, cost: number) => void;
  /** W3C trace context of the task span, passed to the backend's process as TRACEPARENT when tracing is on. */
  traceparent?: string;
  /** Runners that spawn the agent tell its pid here: it goes into the workspace's agent record. */
  onAgentStart?: (pid: number) => void;
  /** Runners tell the backend's conversation id as soon as they know it, before the agent works in it. */
  onBackendSession?: (id: string) => void;
}

/** Where a task's cost came from: backend = the CLI reported it; pricing = computed from coding.pricing; unpriced = neither, so 0. */
export type CostSource = 'backend' | 'pricing' | 'unpriced';

export interface AgentOutcome {
  success: boolean;
  summary: string;
  error?: string;
  backend_session_id?: string;
  tokens: Tokens;
  cost: number;
  /** Where cost came from (runners/pricing.ts); unset means the backend reported it. */
  cost_source?: CostSource;
  duration_ms: number;
  num_turns?: number;
  tool_calls: ToolCall[];
}

export interface AgentRunner {
  readonly name: BackendName;
  run(task: AgentTask): Promise<AgentOutcome>;
  /** Release long-lived resources (servers the runner started). */
  shutdown?(): Promise<void>;
}
