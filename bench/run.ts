// `npm run bench`: the speed figures of docs/speed.md's table, each measured in this one run against its
// comparison (interleaved where there are two sides, medians). Real Temporal dev server, real git server with a
// token, real claude, fake model; a benchmark, not a test: it prints figures and whether each goal is met.
//
//   BENCH_ROUNDS          rounds of the branch / commit / initialize rows (default 25)
//   BENCH_OPENS           sessions opening at once on the big repository (default 20)
//   BENCH_TASK_SESSIONS   sessions each running a task on one worker (default 12; the 50 take minutes on 2 cores)
//   BENCH_ONLY            a comma-separated choice of the parts: git, opens, tasks, progress, checks, bestof, mcp, backends (default all)
//   BENCH_BACKEND_ROUNDS  rounds of each backend's task-through-a-session row (default 5)
//   BENCH_BACKENDS        a comma-separated choice of the backends of that part (default every local one)
//   BENCH_SANDBOX         coding.sandbox of that part's worker (default auto: bubblewrap here), to see the walls' share
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, freemem, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { simpleGit } from 'simple-git';
import { Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseCodingConfig, type CodingConfig } from '../src/config.js';
import { CodingClient } from '../src/client/client.js';
import { startWorkerProcess } from '../test/support/worker-process.js';
import { defaultTaskLimit } from '../src/host/task-slots.js';
import { gitAuthEnv } from '../src/git/credentials.js';
import { GitProcess } from '../src/git/git-process.js';
import { baseChildEnv } from '../src/process/spawn.js';
import type { ProgressEvent } from '../src/contract.js';
import { startTemporalServer } from '../test/support/temporal-server.js';
import { startGitServer } from '../test/support/git-server.js';
import { startFakeAnthropic, defaultScript } from '../test/support/fake-anthropic.js';
import type { FakeScript } from '../test/support/fake-model.js';
import { BIN } from '../test/support/world.js';
import { startBackendBench } from './backends.js';
import { bigRepo } from './big-repo.js';
import { measureBestOf } from './best-of.js';
import { agentProcesses, diskUse, interleaved, loadAverage, mb, median, quantile, rssOf, run, timed } from './measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 25);
const OPENS = Number(process.env.BENCH_OPENS ?? 20);
const TASK_SESSIONS = Number(process.env.BENCH_TASK_SESSIONS ?? 12);
const BACKEND_ROUNDS = Number(process.env.BENCH_BACKEND_ROUNDS ?? 5);
const TOKEN = `bench-${randomBytes(6).toString('hex')}`;
/** BENCH_ONLY=git,opens,tasks,progress,mcp,backends runs only those parts (default: all). */
const ONLY = process.env.BENCH_ONLY?.split(',').map((part) => part.trim());
const only = (part: string) => !ONLY || ONLY.includes(part);

const rows: Array<{ what: string; measured: string; goal: string; met: boolean }> = [];
const row = (what: string, measured: string, goal: string, met: boolean) => {
  rows.push({ what, measured, goal, met });
  console.log(`${met ? 'MET    ' : 'NOT MET'} ${what}: ${measured} (goal ${goal})`);
};

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${mb(totalmem())} RAM (${mb(freemem())} free); load average at start ${loadAverage()}`);
  const [temporal, gitServer, fake] = await Promise.all([startTemporalServer(), startGitServer(TOKEN), startFakeAnthropic(defaultScript({ command: 'true' }))]);
  process.env.BENCH_GIT_TOKEN = TOKEN;
  const connection = await Connection.connect({ address: temporal.address });
  const scratch = await mkdtemp(join(tmpdir(), 'bench-'));
  const claudeHome = await mkdtemp(join(tmpdir(), 'bench-claude-'));
  // The workers' saved work and agent records stay in the scratch directory (inherited by the worker processes).
  process.env.STATION_STATE_DIR = join(scratch, 'state');

  /**
   * A worker with its own queue and workspace base (config overrides on top of the bench's), in its own process
   * as it runs in production: its git processes are forked from a process that holds only the worker, not this
   * bench's client, fake model and git server (a fork costs more the more memory its parent maps).
   */
  async function startWorker(label: string, overrides: Partial<Record<string, unknown>> = {}) {
    const raw = {
      claudecode: { binary_path: BIN.claude, model: 'claude-sonnet-4-5', home: claudeHome, env: { ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: 'bench' } },
      workspace_base_path: await mkdtemp(join(scratch, `ws-${label}-`)),
      idle_timeout_min: 30,
      temporal: { address: temporal.address, task_queue: `bench-${label}-${randomBytes(3).toString('hex')}` },
      ...overrides,
      git: { host: new URL(gitServer.url).host, token_env: 'BENCH_GIT_TOKEN', ...(overrides.git as object | undefined) },
    };
    const config: CodingConfig = parseCodingConfig(raw);
    const worker = await startWorkerProcess(BIN.stationCoding, raw, `bench-${label}`, scratch);
    const client = new CodingClient(connection, { namespace: 'default', taskQueue: config.temporal.task_queue });
    return { client, config, pid: worker.pid, stop: () => worker.stop() };
  }

  const gitEnv = (url: string) => baseChildEnv({ HOME: process.env.HOME, GIT_TERMINAL_PROMPT: '0', ...gitAuthEnv(url, TOKEN) });
  const main = await startWorker('main');

  // ---- the fixed wait: one git process that prints nothing, through simple-git and through git-process.ts ----
  if (only('git')) {
    const dir = join(scratch, 'quiet');
    await run('git', ['init', '--quiet', dir]);
    const args = ['rev-parse', '--verify', '--quiet', 'refs/heads/none'];
    const t = await interleaved(
      ROUNDS,
      () => simpleGit({ baseDir: dir }).raw(args).catch(() => ''),
      () => new GitProcess(dir, baseChildEnv(), new AbortController().signal).raw(args).catch(() => ''),
    );
    console.log(`  a git process that prints nothing: simple-git ${median(t.a).toFixed(1)} ms, git-process.ts ${median(t.b).toFixed(1)} ms (medians of ${ROUNDS})`);
  }

  // ---- branch and commit through the workflow vs plain git ----
  if (only('git')) {
    const url = await gitServer.createRepo('small', { 'f.txt': '0\n' });
    const { session_id, workspace_path } = await main.client.open({ repo_url: url });
    const plain = join(scratch, 'plain-small');
    await run('git', ['clone', '--quiet', url, plain], { env: gitEnv(url) });
    const ident = ['-c', 'user.name=Bench', '-c', 'user.email=bench@localhost'];
    const branch = await interleaved(
      ROUNDS,
      (i) => main.client.branch({ session_id, branch: `wf-${i}`, create: true }),
      (i) => run('git', ['checkout', '--quiet', '-b', `plain-${i}`], { cwd: plain }),
    );
    const commit = await interleaved(
      ROUNDS,
      async (i) => {
        await writeFile(join(workspace_path, 'f.txt'), `wf ${i}\n`);
        await main.client.commit({ session_id, message: `wf ${i}`, add_all: true });
      },
      async (i) => {
        await writeFile(join(plain, 'f.txt'), `plain ${i}\n`);
        await run('git', [...ident, 'commit', '--quiet', '-a', '-m', `plain ${i}`], { cwd: plain });
      },
    );
    // The floor every operation pays: an update that does no work (coding_open attaching to the open session).
    const floor: number[] = [];
    for (let i = 0; i < ROUNDS; i++) floor.push(await timed(() => main.client.open({ session_id })));
    console.log(`  an update that does no work (coding_open attaching): ${median(floor).toFixed(0)} ms (median of ${ROUNDS}): Temporal's round trip`);
    await main.client.close({ session_id });
    for (const [what, t] of [
      ['`branch` create through the workflow vs `git checkout -b`', branch],
      ['`commit` through the workflow vs `git commit -a`', commit],
    ] as const) {
      const added = median(t.a) - median(t.b);
      row(what, `${median(t.a).toFixed(0)} ms vs ${median(t.b).toFixed(0)} ms: ${added.toFixed(0)} ms added p50 (medians of ${ROUNDS})`, '≤ 25 ms added p50', added <= 25);
    }
  }

  // ---- sessions opening at once on one big repository vs one plain clone ----
  if (only('opens')) {
    const { url, history, tree } = await bigRepo(gitServer, scratch, 'big');
    console.log(`  big repository: ${mb(history)} of git history (40 commits of 3 incompressible files), ${mb(tree)} working tree`);
    const plainClone = async () => {
      const dir = join(scratch, `plain-big-${randomBytes(3).toString('hex')}`);
      const ms = await timed(() => run('git', ['clone', '--quiet', '--no-local', url, dir], { env: gitEnv(url) }));
      const disk = await diskUse(dir);
      await rm(dir, { recursive: true, force: true });
      return { ms, disk };
    };
    const opens = async (client: CodingClient, repo_url: string | undefined = url) => {
      let opened: Array<{ session_id: string; workspace_path: string }> = [];
      const ms = await timed(async () => (opened = await Promise.all(Array.from({ length: OPENS }, () => client.open({ repo_url })))));
      const disks = await Promise.all(opened.map((o) => diskUse(o.workspace_path)));
      await Promise.all(opened.map((o) => client.close({ session_id: o.session_id })));
      return { ms, disk: median(disks) };
    };
    const uncached = await startWorker('nocache', { git: { clone_cache: false } });
    // Alternated: clone, cold cache (no mirror yet), clone, warm cache (the mirror exists), clone, no cache.
    const clones = [await plainClone()];
    const cold = await opens(main.client);
    clones.push(await plainClone());
    const warm = await opens(main.client);
    clones.push(await plainClone());
    const none = await opens(uncached.client);
    const empty = await opens(main.client, undefined);
    // One open at a time, for the cost of one session's round trips with nothing competing.
    const alone: number[] = [];
    for (let i = 0; i < 5; i++) {
      let opened: { session_id: string } | undefined;
      alone.push(await timed(async () => (opened = await main.client.open({}))));
      await main.client.close({ session_id: opened!.session_id });
    }
    await uncached.stop();
    const clone = { ms: median(clones.map((c) => c.ms)), disk: median(clones.map((c) => c.disk)) };
    const mirror = await diskUse(join(main.config.workspace_base_path, '.clone-cache'));
    console.log(`  one plain git clone: ${clone.ms.toFixed(0)} ms, ${mb(clone.disk)} (median of 3); the mirror: ${mb(mirror)}`);
    console.log(`  ${OPENS} opens without the clone cache: ${(none.ms / clone.ms).toFixed(1)}× a clone (${none.ms.toFixed(0)} ms), ${mb(none.disk)} each`);
    console.log(`  ${OPENS} opens of an empty workspace (no git at all: Temporal and the workflow alone): ${(empty.ms / clone.ms).toFixed(1)}× a clone (${empty.ms.toFixed(0)} ms)`);
    console.log(`  one open of an empty workspace alone: ${median(alone).toFixed(0)} ms (median of 5); ${OPENS} at once took ${(empty.ms / median(alone)).toFixed(1)}× that`);
    for (const [label, r] of [
      ['cold: the mirror made by the first open', cold],
      ['warm: the mirror fetched', warm],
    ] as const) {
      const ratio = r.ms / clone.ms;
      const share = r.disk / clone.disk;
      row(
        `${OPENS} sessions opening at once vs one plain \`git clone\` (${label})`,
        `${ratio.toFixed(2)}× the time (${r.ms.toFixed(0)} ms vs ${clone.ms.toFixed(0)} ms); ${mb(r.disk)} each, ${(share * 100).toFixed(1)}% of a clone's disk`,
        '≤ 1.5× one clone; ≤ 10% of its disk per extra session',
        ratio <= 1.5 && share <= 0.1,
      );
    }
  }

  // ---- many sessions each running a task on one worker ----
  if (only('tasks')) {
    fake.setScript(defaultScript({ file: 'task.txt', content: 'x\n', command: 'sleep 1', finalText: 'Done.' }));
    const url = await gitServer.createRepo('tasks', { 'a.txt': 'a\n' });
    const limit = defaultTaskLimit();
    let peakAgents = 0;
    let peakAgentRss = 0;
    let peakRss = 0;
    const sampler = setInterval(() => {
      const claude = agentProcesses(main.pid);
      peakAgents = Math.max(peakAgents, claude.length);
      peakAgentRss = Math.max(peakAgentRss, claude.reduce((sum, p) => sum + p.rss, 0));
      peakRss = Math.max(peakRss, rssOf(main.pid));
    }, 100);
    const opened = await Promise.all(Array.from({ length: TASK_SESSIONS }, () => main.client.open({ repo_url: url })));
    const results = await Promise.all(opened.map((o, i) => main.client.code({ session_id: o.session_id, instruction: `task ${i}` })));
    clearInterval(sampler);
    await Promise.all(opened.map((o) => main.client.close({ session_id: o.session_id })));
    const ok = results.filter((r) => r.success).length;
    row(
      `${TASK_SESSIONS} sessions each running a task on one worker (scaled down from 50: 2 cores)`,
      `${ok}/${TASK_SESSIONS} complete; at most ${peakAgents} claude processes at once (limit ${limit} from ${cpus().length} cores and free memory), ${mb(peakAgentRss)} in them; RSS peak of the worker process ${mb(peakRss)}`,
      'a per-worker limit; worker RSS ≤ 1 GB',
      ok === TASK_SESSIONS && peakAgents <= limit && peakRss <= 1024 ** 3,
    );
  }

  // ---- a tool call of the agent shown by --tail / MCP progress ----
  if (only('progress')) {
    const calls = 5;
    let served: number[] = [];
    const script: FakeScript = ({ turnIndex }) => {
      if (turnIndex < calls) {
        served.push(performance.now());
        return { tool: { name: 'Bash', input: { command: 'sleep 0.3', description: `step ${turnIndex}` } } };
      }
      return { text: 'Done.' };
    };
    fake.setScript(script);
    const url = await gitServer.createRepo('tail', { 'a.txt': 'a\n' });
    const { session_id } = await main.client.open({ repo_url: url });
    const latencies: number[] = [];
    let lost = 0;
    for (let task = 0; task < 5; task++) {
      served = [];
      const shown: number[] = [];
      const result = await main.client.code({ session_id, instruction: `tail ${task}` }, (e: ProgressEvent) => {
        if (e.kind === 'tool_call') shown.push(performance.now());
      });
      lost += result.trace.tool_calls.length - shown.length;
      for (let i = 0; i < Math.min(shown.length, served.length); i++) latencies.push(shown[i]! - served[i]!);
    }
    await main.client.close({ session_id });
    const p50 = quantile(latencies, 0.5);
    const p95 = quantile(latencies, 0.95);
    row(
      'a tool call of the agent shown by `--tail` / MCP progress (from the model answering to onProgress)',
      `p50 ${p50.toFixed(0)} ms, p95 ${p95.toFixed(0)} ms over ${latencies.length} tool calls; ${lost} lost`,
      'p95 ≤ 300 ms, no event lost',
      p95 <= 300 && lost === 0,
    );
  }

  // ---- a check through the session (the `check` update: workflow, activity, the agent's walls) vs by hand ----
  if (only('checks')) {
    const command = 'test -d .git && ls >/dev/null';
    const url = await gitServer.createRepo('checks', { 'f.txt': '0\n' });
    const { session_id, workspace_path } = await main.client.open({ repo_url: url, checks: [{ name: 'probe', run: command, timeout_sec: 30 }] });
    const inside: number[] = [];
    const t = await interleaved(
      ROUNDS,
      async () => {
        const result = await main.client.check({ session_id });
        if (!result.passed) throw new Error(`the bench check failed: ${JSON.stringify(result)}`);
        inside.push(result.checks[0]!.duration_ms);
      },
      () => run('sh', ['-c', command], { cwd: workspace_path }),
    );
    const [through, hand] = [median(t.a), median(t.b)];
    row(
      'a check through the session (`check` update) vs the same command by hand in the workspace',
      `${through.toFixed(0)} ms vs ${hand.toFixed(0)} ms: ${(through - hand).toFixed(0)} ms added p50; the check itself (its duration_ms, in the walls) ${median(inside).toFixed(0)} ms`,
      '≤ 50 ms added',
      through - hand <= 50,
    );
    await main.client.close({ session_id });
  }

  // ---- best-of-3 attempts vs the slowest attempt alone; the disk an extra attempt takes ----
  if (only('bestof')) {
    const worker = await startWorker('bestof', { max_concurrent_tasks: 3 });
    await measureBestOf({ client: worker.client, config: worker.config, gitServer, fake, scratch, env: gitEnv, row });
    await worker.stop();
  }

  // ---- `station-coding mcp` answering initialize ----
  if (only('mcp')) {
    const t = await interleaved(ROUNDS, () => mcpInitialize(temporal.address), () => run(process.execPath, ['-e', '0']));
    row(
      '`station-coding mcp` answering `initialize` (from spawn)',
      `median ${median(t.a).toFixed(0)} ms, p95 ${quantile(t.a, 0.95).toFixed(0)} ms (node itself starting: median ${median(t.b).toFixed(0)} ms)`,
      '≤ 300 ms',
      median(t.a) <= 300,
    );
  }

  // ---- each backend: a task through a session vs the same CLI by hand ----
  if (only('backends')) {
    const backends = await startBackendBench(scratch, process.env.BENCH_BACKENDS?.split(',').map((b) => b.trim()));
    const worker = await startWorker('backends', { ...backends.config, ...(process.env.BENCH_SANDBOX ? { sandbox: process.env.BENCH_SANDBOX } : {}) });
    await backends.measure({ rounds: BACKEND_ROUNDS, client: worker.client, repoUrl: (name) => gitServer.createRepo(name, { 'README.md': 'bench\n' }), row });
    await worker.stop();
    await backends.close();
  }

  await main.stop();
  console.log(`\nload average at end ${loadAverage()}\n\n| what | measured | goal | met |\n|---|---|---|---|`);
  for (const r of rows) console.log(`| ${r.what} | ${r.measured} | ${r.goal} | ${r.met ? 'yes' : '**no**'} |`);
  await connection.close();
  await Promise.allSettled([temporal.stop(), gitServer.close(), fake.close()]);
  await rm(scratch, { recursive: true, force: true });
  await rm(claudeHome, { recursive: true, force: true });
}

/** Spawn `station-coding mcp`, send `initialize`, and resolve when the answer arrives. */
function mcpInitialize(address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN.stationCoding, 'mcp'], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { ...process.env, TEMPORAL_ADDRESS: address, STATION_CONFIG: '/dev/null' },
    });
    child.once('error', reject);
    child.stdout.once('data', () => {
      child.kill('SIGKILL');
      child.once('exit', () => resolve());
    });
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } };
    child.stdin.write(`${JSON.stringify(init)}\n`);
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
