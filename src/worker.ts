// A worker process serves two task queues: the shared one (session workflows and session opening, any host)
// and this host's own (`<task_queue>@<worker_id>`: activities on the workspaces this host holds).
import { NativeConnection, Worker, type InjectedSinks } from '@temporalio/worker';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  makeWorkflowExporter,
  type OpenTelemetrySinks,
} from '@temporalio/interceptors-opentelemetry';
import type { Tracing } from './telemetry/setup.js';
import { createActivities } from './activities/index.js';
import { defaultTaskLimit } from './host/task-slots.js';
import { Semaphore } from './core/semaphore.js';
import { LocalBackendRegistry } from './host/registry.js';
import { hostTaskQueue, type CodingConfig } from './config.js';
import { workflowBundle } from './host/workflow-bundle.js';
import { searchAttributeRegistrar } from './host/search-attributes-setup.js';
import { sweepAtStart } from './host/startup-sweep.js';
import { LocalWorkspace } from './git/workspace.js';

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
  /** Export workflow and activity spans (client -> workflow -> activity -> backend form one trace). */
  tracing?: Tracing;
}

/** Workflow spans leave the sandbox through this sink (a traced worker runs the bundle with the interceptors). */
function workflowSpanSinks(tracing: Tracing): InjectedSinks<OpenTelemetrySinks> {
  return { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
}

export async function createWorker({ connection, config, env, tracing }: WorkerOptions): Promise<CodingWorker> {
  const backends = new LocalBackendRegistry(config, env);
  const hostQueue = hostTaskQueue(config);
  const searchAttributes = searchAttributeRegistrar(connection.operatorService, config.temporal.namespace, (line) => console.error(`station-coding worker: ${line}`));
  // Registered at start where the cluster allows it; each session asks again through an activity.
  void searchAttributes().catch(() => {});
  void backends.removeUnusedMirrors().then(
    (removed) => removed.forEach((path) => console.error(`station-coding worker: removed the unused clone-cache mirror ${path}`)),
    (err: Error) => console.error(`station-coding worker: cleaning the clone cache: ${err.message}`),
  );
  // Before any retried task can start here: reap what a killed predecessor left, remove ended sessions' workspaces.
  await sweepAtStart({
    workspace: LocalWorkspace.fromConfig(config),
    workflowService: connection.workflowService,
    namespace: config.temporal.namespace,
    log: (line) => console.error(`station-coding worker: ${line}`),
  });
  const taskSlots = new Semaphore(config.max_concurrent_tasks ?? defaultTaskLimit());
  const activities = createActivities({ config, backends, hostQueue, searchAttributes, taskSlots });
  const common = {
    connection,
    namespace: config.temporal.namespace,
    activities,
    // Heartbeats carry --tail progress (sent on news, activities/index.ts) and cancellation: forward them to the
    // cluster within 100 ms, not every 80% of the timeout. Only a task with news beats that often.
    maxHeartbeatThrottleInterval: '100 milliseconds',
    defaultHeartbeatThrottleInterval: '100 milliseconds',
    shutdownGraceTime: '10 seconds',
    ...(tracing ? { sinks: workflowSpanSinks(tracing) } : {}),
    interceptors: tracing
      ? {
          activity: [
            (ctx: ConstructorParameters<typeof OpenTelemetryActivityInboundInterceptor>[0]) => ({
              inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
              outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
            }),
          ],
        }
      : {},
  };
  const shared = await Worker.create({ ...common, taskQueue: config.temporal.task_queue, workflowBundle: await workflowBundle({ traced: tracing !== undefined }) });
  const host = await Worker.create({ ...common, taskQueue: hostQueue });

  let running: Promise<void> | undefined;
  return {
    hostQueue,
    run() {
      // The two stop together: a host worker without the shared one (or the reverse) would hold sessions that
      // no longer move.
      const stopBoth = () => {
        for (const w of [shared, host]) if (w.getState() === 'RUNNING') w.shutdown();
      };
      running ??= Promise.allSettled([shared, host].map((w) => w.run().finally(stopBoth))).then(async (results) => {
        await backends.shutdown();
        const failed = results.find((r) => r.status === 'rejected');
        if (failed) throw failed.reason;
      });
      return running;
    },
    async shutdown() {
      for (const w of [shared, host]) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
    },
  };
}
