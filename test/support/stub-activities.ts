// Stub activities for testing the session workflow alone (no git, no agent): the workflow is the thing under
// test, so its rules are pinned in milliseconds. Each stub records what it was asked, and how many ran at once.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Activities, OpenedSession } from '../../src/activities/index.js';
import type { CodeResult, SessionStart } from '../../src/contract.js';

export interface StubLog {
  calls: string[];
  maxConcurrent: number;
  closed: Array<{ session: string; delete_workspace: boolean }>;
  /** Pull requests opened, as head>base. */
  pulls: Set<string>;
}

/**
 * Knobs a test sets through the start input's title: `idle=<ms>`, `approval=<ms>`, `checks_fail=<n>`, `open_ms=<ms>`, `cost=<usd>`, `fail_open`,
 * `lost` (the workspace's worker queue is served by nobody; a checkpoint store is configured, lost after 1 s),
 * `elsewhere` (the workspace's worker queue is `<taskQueue>@elsewhere`, which a test serves with a second worker).
 */
function knobs(title: string | undefined): Record<string, string> {
  return Object.fromEntries((title ?? '').split(/\s+/).filter(Boolean).map((kv) => [kv.split('=')[0], kv.split('=')[1] ?? '1']));
}

export function stubActivities(taskQueue: string): { activities: Activities; log: StubLog } {
  const log: StubLog = { calls: [], maxConcurrent: 0, closed: [], pulls: new Set() };
  const knobsOf = new Map<string, Record<string, string>>();
  let running = 0;
  const tracked = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    log.calls.push(name);
    running++;
    log.maxConcurrent = Math.max(log.maxConcurrent, running);
    try {
      return await fn();
    } finally {
      running--;
    }
  };
  /** Sleep while heartbeating, so a cancel reaches the stub like it reaches a real task. */
  const work = async (ms: number) => {
    const ctx = Context.current();
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (!ctx.info.isLocal) ctx.heartbeat();
      await ctx.sleep(Math.min(50, end - Date.now()));
    }
  };

  const createBranch: Activities['createBranch'] = async (_session, req) =>
    tracked(`branch ${req.branch}`, async () => {
      await work(30);
      return { success: true, branch: req.branch, created: req.create };
    });
  const commitChanges: Activities['commitChanges'] = async (_session, req) =>
    tracked(`commit ${req.message}`, async () => ({ success: true, commit_hash: 'f'.repeat(40), files_changed: 1, insertions: 1, deletions: 0 }));

  const checkRuns = new Map<string, number>();
  const activities = {
    async registerSearchAttributes() {
      return true;
    },
    async openSession(start: SessionStart): Promise<OpenedSession> {
      const k = knobs(start.title);
      knobsOf.set(start.session_id, k);
      return tracked(`open ${start.session_id}`, async () => {
        await work(Number(k.open_ms ?? 0));
        if (k.fail_open) throw ApplicationFailure.nonRetryable(`repository not found: ${start.repo_url}`, 'not_found');
        return {
          session: { session_id: start.session_id, backend: start.backend ?? 'claudecode', workspace_path: `/stub/${start.session_id}`, managed: true, repo_url: start.repo_url },
          repo_cloned: true,
          branch: 'main',
          worker_queue: k.lost ? `${taskQueue}@gone-host` : k.elsewhere ? `${taskQueue}@elsewhere` : taskQueue,
          ...(k.lost ? { checkpoint: true, worker_lost_after_ms: 1000 } : {}),
          cleanup_policy: start.cleanup_policy ?? 'on_session_end',
          idle_timeout_ms: Number(k.idle ?? 3_600_000),
          approval_timeout_ms: Number(k.approval ?? 7 * 86_400_000),
          task_timeout_ms: 60_000,
          max_attempts: 1,
          budget: start.max_cost_usd !== undefined ? { max_cost_usd: start.max_cost_usd } : {},
        };
      });
    },
    async runCode(session, req): Promise<CodeResult & { backend_session_id?: string }> {
      return tracked(`code ${req.instruction}`, async () => {
        const ms = /slow/.test(req.instruction) ? 1500 : 20;
        await work(ms);
        const cost = Number(knobsOf.get(session.session_id.split('~')[0]!)?.cost ?? 0);
        const tokens = { input: 10, output: 5, reasoning: 0, cache_read: 0, cache_write: 0 };
        return { success: true, summary: `did: ${req.instruction}`, files_changed: [], trace: { backend: session.backend, tokens, cost, duration_ms: ms, tool_calls: [] } };
      });
    },
    createBranch,
    commitChanges,
    // The local-activity forms do it when the session's worker queue is this one, like the real ones.
    async createBranchHere(queue, session, req) {
      return queue === taskQueue ? createBranch(session, req) : null;
    },
    async commitChangesHere(queue, session, req) {
      return queue === taskQueue ? commitChanges(session, req) : null;
    },
    async pushBranch(_session, req) {
      return tracked('push', async () => ({ success: true, remote: req.remote, branch: req.branch ?? 'main', commit_hash: 'f'.repeat(40), set_upstream: req.set_upstream }));
    },
    async runChecks(session, own, names) {
      // Knob checks_fail=<n>: the first n runs of the session's checks fail. Knob wins=<n,m>: only the checks of
      // those best-of-N attempts pass.
      return tracked('checks', async () => {
        const runs = (checkRuns.get(session.session_id) ?? 0) + 1;
        checkRuns.set(session.session_id, runs);
        const attempt = /~task-\d+-attempt-(\d+)$/.exec(session.session_id)?.[1];
        const wins = knobsOf.get(session.session_id.split('~')[0]!)?.wins?.split(',');
        const failing = attempt && wins ? !wins.includes(attempt) : runs <= Number(knobsOf.get(session.session_id)?.checks_fail ?? 0);
        const all = own ?? [{ name: 'tests', run: 'npm test', timeout_sec: 60 }];
        const unknown = (names ?? []).filter((n) => !all.some((c) => c.name === n));
        if (unknown.length) throw ApplicationFailure.nonRetryable(`names: no check called ${unknown.join(', ')}`, 'invalid_input');
        return all
          .filter((c) => !names?.length || names.includes(c.name))
          .map((c) => ({ name: c.name, passed: !failing, exit_code: failing ? 1 : 0, duration_ms: 5, output_tail: failing ? `run ${runs}: 1 test failed` : 'ok' }));
      });
    },
    // Best-of-N: attempt n's changes measure 10·n lines (a smaller number is a smaller diff).
    async prepareAttempts(_session, task, count) {
      return tracked(`prepare attempts ${count}`, async () => ({
        dir: `/stub/attempts/task-${task}`,
        base: 'b'.repeat(40),
        workspaces: Array.from({ length: count }, (_, i) => `/stub/attempts/task-${task}/attempt-${i + 1}`),
      }));
    },
    async measureAttempts(_session, prepared) {
      return tracked('measure attempts', async () => prepared.workspaces.map((_, i) => ({ n: i + 1, tree: String(i + 1).repeat(40), files: 1, insertions: 10 * (i + 1), deletions: 0 })));
    },
    async settleAttempts(_session, prepared, chosen) {
      return tracked(`settle attempts ${chosen?.n ?? 'none'}`, async () => ({ saved_to: `/stub/saved${prepared.dir}`, ...(chosen ? { applied: chosen.n } : {}) }));
    },
    async diffSession(_session, req) {
      return tracked('diff', async () => ({ base: 'b'.repeat(40), uncommitted: req.uncommitted, files: [], files_changed: 0, insertions: 0, deletions: 0, patch: '', truncated: false, patch_bytes: 0 }));
    },
    async openPullRequest(order) {
      return tracked('pr', async () => {
        const base = order.request.base ?? order.start_branch ?? 'main';
        const created = !log.pulls.has(`${order.branch}>${base}`);
        log.pulls.add(`${order.branch}>${base}`);
        return { url: `https://forge.invalid/pulls/1`, number: 1, forge: 'gitea' as const, head: order.branch ?? 'HEAD', base, created };
      });
    },
    async restoreWorkspace(session) {
      return tracked(`restore ${session.session_id}`, async () => ({ workspace_path: `/stub/restored/${session.session_id}`, worker_queue: taskQueue, branch: 'main' }));
    },
    async closeSession(session, delete_workspace) {
      return tracked(`close ${session.session_id}`, async () => {
        log.closed.push({ session: session.session_id, delete_workspace });
        return { workspace_deleted: delete_workspace };
      });
    },
  } satisfies Activities;
  return { activities, log };
}
