// What a runner test (test/<agent>-runner.test.ts) needs around the real CLI: a scratch root with a worker secret in
// the environment (the child must not see it), a git workspace per test, and a task that records what the runner
// reports.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentTask } from '../../src/core/runner.js';
import type { ProgressEvent, Tokens } from '../../src/contract.js';

/** A value of GITHUB_TOKEN in the test process: no child environment may carry it. */
export const WORKER_SECRET = 'ghp_worker_secret_do_not_leak';

export interface RunnerScratch {
  root: string;
  /** A new git workspace under the root. */
  workspace(): string;
  close(): void;
}

/** Call in `before`; `close()` in `after`. */
export function runnerScratch(prefix: string): RunnerScratch {
  const root = mkdtempSync(path.join(os.tmpdir(), `${prefix}-`));
  const saved = process.env.GITHUB_TOKEN;
  process.env.GITHUB_TOKEN = WORKER_SECRET;
  let counter = 0;
  return {
    root,
    workspace() {
      const dir = path.join(root, `ws-${++counter}`);
      execFileSync('git', ['init', '-q', dir]);
      return dir;
    },
    close() {
      if (saved === undefined) delete process.env.GITHUB_TOKEN;
      else process.env.GITHUB_TOKEN = saved;
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A task in `workspace` that records its progress events and the spending reported as it went. */
export function recordingTask(workspace: string, opts: Partial<AgentTask> = {}) {
  const progress: ProgressEvent[] = [];
  const usage: Array<{ tokens: Tokens; cost: number }> = [];
  const task: AgentTask = {
    session_id: `sess-${path.basename(workspace)}`,
    workspace_path: workspace,
    prompt: 'Create hello.txt and show it.',
    timeout_ms: 60_000,
    signal: new AbortController().signal,
    progress: (event) => progress.push(event),
    usage: (tokens, cost) => usage.push({ tokens, cost }),
    ...opts,
  };
  return { task, progress, usage };
}
