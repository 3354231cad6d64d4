// `npm run bench`'s best-of-N part, in one run side by side: a best-of-3 task (the worker's task limit at 3)
// against the slowest of the same three attempts run alone, one after the other; and the disk each extra attempt
// takes while they run, against a plain clone of the 45 MB benchmark repository.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CodingClient } from '../src/client/client.js';
import type { CodingConfig } from '../src/config.js';
import type { GitServer } from '../test/support/git-server.js';
import { defaultScript, type FakeAnthropic } from '../test/support/fake-anthropic.js';
import { bigRepo } from './big-repo.js';
import { mb, median, run, timed } from './measure.js';

const ROUNDS = Number(process.env.BENCH_BESTOF_ROUNDS ?? 3);
const ATTEMPTS = 3;

interface BestOfBench {
  client: CodingClient;
  config: CodingConfig;
  gitServer: GitServer;
  fake: FakeAnthropic;
  scratch: string;
  env: (url: string) => NodeJS.ProcessEnv;
  row: (what: string, measured: string, goal: string, met: boolean) => void;
}

export async function measureBestOf({ client, config, gitServer, fake, scratch, env, row }: BestOfBench): Promise<void> {
  const { url } = await bigRepo(gitServer, scratch, 'bestof');
  const plain = join(scratch, 'plain-bestof');
  await run('git', ['clone', '--quiet', '--no-local', url, plain], { env: env(url) });
  const cloneDisk = await duK([plain]);
  await rm(plain, { recursive: true, force: true });

  // Each attempt: the model's answers, a file written, 3 s of work (what a model's and a tool's time stand for).
  fake.setScript(defaultScript({ file: 'attempt.txt', content: 'x\n', command: 'sleep 3', finalText: 'Done.' }));
  const { session_id, workspace_path } = await client.open({ repo_url: url });
  const copies = join(config.workspace_base_path, '.attempts', `ws_${session_id}`);
  const alone: number[] = [];
  const together: number[] = [];
  const perAttempt: number[] = [];
  /** How long the last best-of task's own activities took, scheduled to completed (ms). */
  const phases: Record<string, number[]> = {};
  const aloneRound = async (round: number) => {
    const walls: number[] = [];
    for (let i = 0; i < ATTEMPTS; i++) walls.push(await timed(() => client.code({ session_id, instruction: `alone ${round}.${i}` })));
    alone.push(Math.max(...walls));
  };
  const togetherRound = async (round: number) => {
    // The copies' own disk: du counts a hard-linked file once, in the first directory named (the workspace).
    let peak = 0;
    let running = true;
    const sampling = (async () => {
      while (running) {
        const [, extra] = await duEach([workspace_path, copies]).catch(() => [0, 0]);
        peak = Math.max(peak, extra ?? 0);
        await sleep(200);
      }
    })();
    let result: Awaited<ReturnType<CodingClient['code']>> | undefined;
    together.push(await timed(async () => (result = await client.code({ session_id, instruction: `together ${round}`, attempts: ATTEMPTS }))));
    running = false;
    await sampling;
    if (result?.attempts?.length !== ATTEMPTS || result.chosen === undefined) throw new Error(`best-of-${ATTEMPTS} did not run: ${JSON.stringify(result).slice(0, 300)}`);
    perAttempt.push(peak / ATTEMPTS);
    for (const [name, ms] of Object.entries(await activityTimes(client, session_id))) (phases[name] ??= []).push(ms);
  };
  // Alternated, so that load on the machine falls on both sides alike.
  for (let round = 0; round < ROUNDS; round++) {
    if (round % 2 === 0) {
      await aloneRound(round);
      await togetherRound(round);
    } else {
      await togetherRound(round);
      await aloneRound(round);
    }
  }
  await client.close({ session_id });

  const slowest = median(alone);
  const ratio = median(together) / slowest;
  row(
    `best-of-${ATTEMPTS} (task limit ${ATTEMPTS}) vs the slowest of its attempts run alone`,
    `${ratio.toFixed(2)}× (${median(together).toFixed(0)} ms vs ${slowest.toFixed(0)} ms, medians of ${ROUNDS})`,
    '≤ 1.3×',
    ratio <= 1.3,
  );
  const phase = (name: string) => `${median(phases[name] ?? [0]).toFixed(0)} ms`;
  console.log(`  of a best-of-${ATTEMPTS} task: the copies ${phase('prepareAttempts')}, measuring them ${phase('measureAttempts')}, applying the chosen one and saving all ${phase('settleAttempts')} (medians)`);
  const share = median(perAttempt) / cloneDisk;
  row(
    'disk per extra attempt vs a plain clone of the 45 MB benchmark repository',
    `${mb(median(perAttempt))} vs ${mb(cloneDisk)}: ${(share * 100).toFixed(1)}%`,
    '≤ 5%',
    share <= 0.05,
  );
}

/** du's size of each directory (in bytes), a file with several links counted once, in the first one named. */
async function duEach(dirs: string[]): Promise<number[]> {
  const { stdout } = await run('du', ['-sk', ...dirs]);
  return stdout.trim().split('\n').map((line) => Number(line.split('\t')[0]) * 1024);
}

async function duK(dirs: string[]): Promise<number> {
  return (await duEach(dirs)).reduce((a, b) => a + b, 0);
}

/** Scheduled-to-completed time of the best-of activities of the session's latest best-of task (ms, by activity type). */
async function activityTimes(client: CodingClient, sessionId: string): Promise<Record<string, number>> {
  const history = await client.client.workflow.getHandle(sessionId).fetchHistory();
  const scheduled = new Map<string, { name: string; at: number }>();
  const times: Record<string, number> = {};
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  for (const event of history.events ?? []) {
    const name = event.activityTaskScheduledEventAttributes?.activityType?.name;
    if (name) scheduled.set(String(event.eventId), { name, at: ms(event.eventTime) });
    const done = event.activityTaskCompletedEventAttributes;
    const from = done ? scheduled.get(String(done.scheduledEventId)) : undefined;
    if (from && /Attempts$/.test(from.name)) times[from.name] = ms(event.eventTime) - from.at;
  }
  return times;
}
