// A worker process serves two task queues: the shared one (session workflows and session opening, any host)
// and this host's own (`<task_queue>@<worker_id>`: activities on the workspaces this host holds).
import { NativeConnection, Worker } from '@temporalio/worker';
import { createActivities } from './activities/index.js';
import { LocalBackendRegistry } from './backends/registry.js';
import { hostTaskQueue, type CodingConfig } from './config.js';
import { workflowBundle } from './workflow-bundle.js';

export interface CodingWorker {
  /** Resolves when both workers have stopped. */
  run(): Promise<void>;
  shutdown(): Promise<void>;
  hostQueue: string;
}

export interface WorkerOptions {
  connection: NativeConnection;
  config: CodingConfig;
  env?: NodeJS.ProcessEnv;
}

export async function createWorker({ connection, config, env }: WorkerOptions): Promise<CodingWorker> {
  const backends = new LocalBackendRegistry(config, env);
  const hostQueue = hostTaskQueue(config);
  const activities = createActivities({ config, backends, hostQueue });
  const common = {
    connection,
    namespace: config.temporal.namespace,
    activities,
    // Heartbeats carry --tail progress and cancellation: flush them every second, not every 80% of the timeout.
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
    shutdownGraceTime: '10 seconds',
  } as const;
  const shared = await Worker.create({ ...common, taskQueue: config.temporal.task_queue, workflowBundle: await workflowBundle() });
  const host = await Worker.create({ ...common, taskQueue: hostQueue });

  let running: Promise<void> | undefined;
  return {
    hostQueue,
    run() {
      running ??= Promise.all([shared.run(), host.run()]).then(() => backends.shutdown());
      return running;
    },
    async shutdown() {
      for (const w of [shared, host]) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
    },
  };
}
