// `npm run bench:tracing`: what tracing costs. Runs the same coding session (open, one scripted claude task, commit,
// close; real Temporal dev server, real git server, real claude, fake model) with tracing off and then on,
// exporting over OTLP to a small local receiver, and prints the wall times. Also times the backend span
// wrapper with the no-op tracer. Figures, not a test: nothing here passes or fails.
import { createServer } from 'node:http';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { parseCodingConfig } from '../src/config.js';
import { CodingClient } from '../src/client/client.js';
import { createWorker } from '../src/worker.js';
import { startTelemetry, type Tracing } from '../src/telemetry/setup.js';
import { traced } from '../src/telemetry/task-span.js';
import { zeroTokens } from '../src/contract.js';
import { startTemporalServer } from '../test/support/temporal-server.js';
import { startGitServer } from '../test/support/git-server.js';
import { startFakeAnthropic, defaultScript } from '../test/support/fake-anthropic.js';
import { BIN } from '../test/support/world.js';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 8);

async function otlpReceiver() {
  let requests = 0;
  let bytes = 0;
  const server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, stats: () => ({ requests, bytes }), close: () => new Promise((r) => server.close(r)) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const [temporal, git, fake] = await Promise.all([startTemporalServer(), startGitServer('bench-token'), startFakeAnthropic(defaultScript({ command: 'true' }))]);
  process.env.BENCH_GIT_TOKEN = 'bench-token';
  const connection = await Connection.connect({ address: temporal.address });
  const url = await git.createRepo('bench');

  async function sessions(label: string, tracing: Tracing | undefined): Promise<number[]> {
    const config = parseCodingConfig({
      claudecode: {
        binary_path: BIN.claude,
        model: 'claude-sonnet-4-5',
        home: await mkdtemp(join(tmpdir(), 'bench-claude-')),
        env: { ANTHROPIC_BASE_URL: fake.url, ANTHROPIC_API_KEY: 'bench' },
      },
      workspace_base_path: await mkdtemp(join(tmpdir(), 'bench-ws-')),
      git: { token_env: 'BENCH_GIT_TOKEN' },
      temporal: { address: temporal.address, task_queue: `bench-${label}-${randomBytes(3).toString('hex')}`, worker_id: `bench-${label}` },
    });
    const native = await NativeConnection.connect({ address: temporal.address });
    const worker = await createWorker({ connection: native, config, tracing });
    const running = worker.run();
    const client = new CodingClient(connection, { namespace: 'default', taskQueue: config.temporal.task_queue, tracing: tracing !== undefined });
    const times: number[] = [];
    for (let i = 0; i <= SESSIONS; i++) {
      const started = performance.now();
      const { session_id } = await client.open({ repo_url: url });
      const result = await client.code({ session_id, instruction: `bench task ${i}` });
      if (!result.success) throw new Error(`bench task failed: ${result.error}`);
      await client.commit({ session_id, message: `bench ${i}` });
      await client.close({ session_id });
      if (i > 0) times.push(performance.now() - started); // the first one warms up
    }
    await worker.shutdown();
    await running;
    await native.close();
    return times;
  }

  const off = await sessions('off', undefined);

  // The backend span wrapper with tracing off: the API's no-op tracer, since no SDK is started yet.
  const spanCalls = 20_000;
  const spanStarted = performance.now();
  for (let i = 0; i < spanCalls; i++) {
    await traced('claudecode', { session_id: 's', workspace: '/w' }, async () => ({ success: true, tokens: zeroTokens(), cost: 0, tool_calls: [] }));
  }
  const perSpanUs = ((performance.now() - spanStarted) / spanCalls) * 1000;


  const receiver = await otlpReceiver();
  const telemetry = startTelemetry('station-coding-bench', {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
  });
  const on = await sessions('on', telemetry.tracing);
  await telemetry.shutdown();

  const mOff = median(off);
  const mOn = median(on);
  console.log(`sessions per mode: ${SESSIONS} (open, one claude task, commit, close), after one warm-up`);
  console.log(`tracing off: median ${mOff.toFixed(0)} ms  [${off.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`tracing on (OTLP http/json to a local receiver): median ${mOn.toFixed(0)} ms  [${on.map((t) => t.toFixed(0)).join(', ')}]`);
  console.log(`overhead of tracing on: ${(((mOn - mOff) / mOff) * 100).toFixed(1)}% of a session's wall time`);
  console.log(`OTLP receiver got ${receiver.stats().requests} export requests, ${receiver.stats().bytes} bytes`);
  console.log(`backend span wrapper with tracing off: ${perSpanUs.toFixed(2)} µs per task (${spanCalls} calls)`);

  await receiver.close();
  await connection.close();
  await Promise.allSettled([temporal.stop(), git.close(), fake.close()]);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
