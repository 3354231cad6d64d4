// A real Temporal dev server for the tests, on 127.0.0.1 (in-memory; one per test run), or the cluster named by
// $STATION_TEST_TEMPORAL_ADDRESS (`npm run test:cluster`: the natively built server on PostgreSQL).
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { portOpen } from '../../src/client/embedded-server.js';
import { ensureTemporalCli } from '../../src/client/temporal-cli.js';

export interface TemporalServer {
  address: string;
  cli: string;
  stop(): Promise<void>;
}

/**
 * A free port below the kernel's ephemeral range (32768+), so that no outgoing connection can take it between
 * this check and the server that binds it later (that race made a dev server fail with EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export async function startTemporalServer(): Promise<TemporalServer> {
  const cli = ensureTemporalCli((line) => console.error(line));
  const external = process.env.STATION_TEST_TEMPORAL_ADDRESS;
  // Someone else's server: used as it is, and left running.
  if (external) return { address: external, cli, async stop() {} };
  const port = await freePort();
  const child: ChildProcess = spawn(
    cli,
    ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(port), '--namespace', 'default', '--log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const deadline = Date.now() + 60_000;
  while (!(await portOpen('127.0.0.1', port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`temporal dev server did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    address: `127.0.0.1:${port}`,
    cli,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {}
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    },
  };
}

let shared: Promise<TemporalServer> | undefined;

/** One dev server per test run, shared by the world and by the tests that need only Temporal (the workflow rules). */
export function sharedTemporalServer(): Promise<TemporalServer> {
  shared ??= startTemporalServer();
  return shared;
}

export async function stopSharedTemporalServer(): Promise<void> {
  const server = await shared?.catch(() => undefined);
  await server?.stop();
}
