// The commands that serve or look after this host rather than call one tool: worker, nats-agent, mcp, doctor,
// config and server stop. Each imports what it runs (worker, NATS agent, MCP server) only when it runs.
import type { Command } from 'commander';
import { describeKeys, maskConfig, type CodingConfig } from '../../config.js';
import { installTemporalRuntime, prepare, type Finish } from './context.js';
import { UsageError } from './errors.js';

export function addHostCommands(program: Command, finish: Finish): void {
  program
    .command('worker')
    .description('A long-lived worker against the configured cluster. Any number of workers on any number of hosts may serve one task queue.')
    .action(async (_options: object, command: Command) => finish(await runWorker((await prepare(command)).config)));

  program
    .command('nats-agent')
    .description(
      'A coding agent for backend nats (opencode-nats): takes tasks from NATS JetStream and codes with its local backend (docs/nats.md); stops cleanly on SIGINT / SIGTERM.',
    )
    .action(async (_options: object, command: Command) => finish(await runNatsAgent((await prepare(command)).config)));

  program
    .command('mcp')
    .description('Serve the tools over MCP: stdio, or streamable HTTP with --http.')
    .option('--http <port>', 'Serve streamable HTTP on http://127.0.0.1:<port>/mcp instead of stdio (0: any free port).')
    .action(async (options: { http?: string }, command: Command) => {
      const port = options.http === undefined ? undefined : Number(options.http);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError('--http needs a port number (0-65535)');
      // The Temporal runtime is installed only when the server connects, after it has answered the handshake.
      const { config, globals } = await prepare(command, { temporal: false });
      const { serveMcp } = await import('../../mcp/server.js');
      finish(await serveMcp(config, { http: port, prepareTemporal: () => installTemporalRuntime(globals.verbose ? 'INFO' : 'ERROR') }));
    });

  program
    .command('doctor')
    .description('Check every backend on this host (binary, version, model), git and Temporal, with the fix for each problem; exit 1 if what the config needs is broken.')
    .action(async (_options: object, command: Command) => {
      const { config, globals } = await prepare(command);
      const { formatChecks, runDoctor } = await import('../doctor.js');
      const checks = await runDoctor(config);
      console.log(globals.json ? JSON.stringify(checks, null, 2) : formatChecks(checks));
      // Only what this config needs decides the exit code: git, Temporal and the default backend.
      const needed = new Set(['git', 'temporal', config.backend]);
      finish(checks.some((c) => !c.ok && needed.has(c.name)) ? 1 : 0);
    });

  program
    .command('config')
    .description('Print the effective config with secrets masked, or (--keys) every key with its default and meaning.')
    .option('--keys', 'List every config key with its default and meaning instead.')
    .action(async (options: { keys?: boolean }, command: Command) => {
      const { config } = await prepare(command, { temporal: false });
      if (options.keys) {
        for (const row of describeKeys()) console.log(`${row.key}${row.default !== undefined ? ` (default ${JSON.stringify(row.default)})` : ''}: ${row.description}`);
      } else {
        console.log(JSON.stringify(maskConfig(config), null, 2));
      }
      finish(0);
    });

  const server = program.command('server').description('The embedded Temporal dev server (started by any command when no cluster is configured).');
  server
    .command('stop')
    .description('Stop the embedded Temporal dev server.')
    .action(async (_options: object, command: Command) => {
      await prepare(command, { temporal: false });
      const { stopEmbeddedServer } = await import('../embedded-server.js');
      console.log(stopEmbeddedServer() ? 'embedded Temporal server stopped' : 'no embedded Temporal server was running');
      finish(0);
    });
}

async function runWorker(config: CodingConfig): Promise<number> {
  const address = config.temporal.address;
  if (!address) throw new UsageError('station-coding worker needs a cluster: set TEMPORAL_ADDRESS, coding.temporal.address or a temporal.toml profile (TEMPORAL_PROFILE)');
  const { connectNative } = await import('../connection.js');
  const { startTelemetry } = await import('../../telemetry/setup.js');
  const { createWorker } = await import('../../worker.js');
  const telemetry = startTelemetry('station-coding-worker');
  const connection = await connectNative(config.temporal);
  const worker = await createWorker({ connection, config, tracing: telemetry.tracing });
  const tls = config.temporal.tls?.enabled !== false && (config.temporal.tls || config.temporal.api_key) ? ', TLS' : '';
  console.error(`worker serving ${config.temporal.task_queue} and ${worker.hostQueue} on ${address} (namespace ${config.temporal.namespace}${tls})`);
  const stop = () => void worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await worker.run();
  await connection.close();
  await telemetry.shutdown();
  return 0;
}

/** A coding agent for nats (opencode-nats): takes tasks from NATS JetStream until SIGINT / SIGTERM. */
async function runNatsAgent(config: CodingConfig): Promise<number> {
  const { NatsAgent } = await import('../../nats/agent/agent.js');
  const agent = new NatsAgent({ config });
  await agent.start();
  const signalled = new Promise<boolean>((resolve) => {
    process.once('SIGINT', () => resolve(true));
    process.once('SIGTERM', () => resolve(true));
  });
  const stoppedBySignal = await Promise.race([signalled, agent.closed.then(() => false)]);
  await agent.stop();
  return stoppedBySignal ? 0 : 1;
}
