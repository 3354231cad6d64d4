// What a command's action starts from: the global options, the Temporal runtime's logger, the config, and (for the
// commands that talk to sessions) a client connected to the configured cluster, else to the embedded dev server
// with an in-process worker. The Temporal and telemetry modules are imported here, when a command runs, so that
// `--help` and usage errors stay quick.
import type { Command } from 'commander';
import { loadConfig, type CodingConfig } from '../../config.js';
import type { Connected } from '../connect.js';

/** The options every command takes (defined on the program). */
export interface Globals {
  config?: string;
  verbose?: boolean;
  json?: boolean;
}

/** Receives the exit code of the command that ran. */
export type Finish = (code: number) => void;

export interface Prepared {
  globals: Globals;
  config: CodingConfig;
}

/**
 * The global options and the config of `command`. With `temporal` (the default), the Temporal runtime is installed
 * first: a command's in-process worker stays quiet (its failures reach the user as the command's one-line error),
 * unless --verbose, or the command is `worker`.
 */
export async function prepare(command: Command, { temporal = true } = {}): Promise<Prepared> {
  const { config: configFile, verbose, json } = command.optsWithGlobals<Globals>();
  const globals: Globals = { config: configFile, verbose, json };
  if (temporal) await installTemporalRuntime(verbose || command.name() === 'worker' ? 'INFO' : 'ERROR');
  const { config } = loadConfig(configFile);
  // The worker hides its config file from coding agents (process/agent-walls.ts): it must know which one it is.
  if (configFile) process.env.STATION_CONFIG = configFile;
  return { globals, config };
}

/** Install the Temporal runtime with a logger at `level` (before any connection or worker exists). */
export async function installTemporalRuntime(level: 'INFO' | 'ERROR'): Promise<void> {
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  Runtime.install({ logger: new DefaultLogger(level) });
}

/** Run `fn` with a connected client, with tracing; the connection (and any in-process worker) is closed after. */
export async function withConnection<T>({ config, globals }: Prepared, fn: (c: Connected) => Promise<T>): Promise<T> {
  const { startTelemetry } = await import('../../telemetry/setup.js');
  const { connectCoding } = await import('../connect.js');
  const telemetry = startTelemetry('station-coding');
  const connected = await connectCoding(config, {
    tracing: telemetry.tracing,
    // Starting the embedded server takes a while: say so even without --verbose.
    log: (line) => (globals.verbose || /started the embedded/.test(line) ? console.error(line) : undefined),
  });
  try {
    // A worker of this process that stops would leave the command waiting for operations nobody runs.
    return await Promise.race([fn(connected), connected.workerStopped]);
  } finally {
    await connected.close();
    await telemetry.shutdown();
  }
}
