// Connecting a command to Temporal: the configured cluster, or the embedded dev server (started when needed)
// with an in-process worker, so that one command works with nothing else running.
import type { NativeConnection } from '@temporalio/worker';
import type { CodingConfig } from '../config.js';
import type { Tracing } from '../telemetry/setup.js';
import { createWorker, type CodingWorker } from '../worker.js';
import { CodingClient } from './client.js';
import { connectClient, connectNative } from './connection.js';
import { ensureEmbeddedServer, type EmbeddedServerInfo } from './embedded-server.js';

export interface Connected {
  client: CodingClient;
  address: string;
  embedded?: EmbeddedServerInfo;
  worker?: CodingWorker;
  /**
   * Rejects when the in-process worker stops before close() (never settles without one): a command waiting for
   * an operation races it, so that it ends with the worker's error instead of waiting for an operation that no
   * worker will run.
   */
  workerStopped: Promise<never>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Tracing of this process (from startTelemetry), passed to the client and the in-process worker. */
  tracing?: Tracing;
  /** Run a worker in this process (default: only with the embedded server). */
  withWorker?: boolean;
  log?: (line: string) => void;
}

export async function connectCoding(config: CodingConfig, options: ConnectOptions = {}): Promise<Connected> {
  const embedded = config.temporal.address ? undefined : await ensureEmbeddedServer(config, options.log);
  const address = config.temporal.address ?? embedded!.address;
  // The embedded dev server speaks plain gRPC on 127.0.0.1: TLS settings and API keys are for a cluster.
  const temporal = embedded ? { ...config.temporal, tls: undefined, api_key: undefined } : config.temporal;
  const connection = await connectClient(temporal, address);
  const client = new CodingClient(connection, {
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.task_queue,
    tracing: options.tracing !== undefined,
  });

  let worker: CodingWorker | undefined;
  let nativeConnection: NativeConnection | undefined;
  if (options.withWorker ?? embedded !== undefined) {
    nativeConnection = await connectNative(temporal, address);
    worker = await createWorker({ connection: nativeConnection, config, tracing: options.tracing });
  }
  let closing = false;
  const never = new Promise<never>(() => {});
  // A worker stopped by close() is no news: only a stop under a running command rejects.
  const workerStopped = worker
    ? worker.run().then(
        () => (closing ? never : Promise.reject(workerStoppedError('it shut down'))),
        (err: Error) => {
          options.log?.(`worker stopped: ${err.message}`);
          return closing ? never : Promise.reject(workerStoppedError(err.message));
        },
      )
    : never;
  workerStopped.catch(() => {}); // whoever races it sees the rejection; nobody else has to
  return {
    client,
    address,
    embedded,
    worker,
    workerStopped,
    async close() {
      closing = true;
      await worker?.shutdown();
      await nativeConnection?.close();
      await connection.close();
    },
  };
}

/** The one line a command ends with when the worker it hosted stops under it. */
function workerStoppedError(reason: string): Error {
  return new Error(
    `the worker in this process stopped (${reason.split('\n')[0]}); sessions it held are left as they are: start \`station-coding worker\` with the same config to continue them, or end one with \`station-coding close <session_id>\``,
  );
}
