// The workflow code a worker runs, as one bundle: prebuilt by `npm run build` (src/build/bundle-workflows),
// so a worker (and every CLI command on the embedded default) starts in a second; bundled on the fly if missing.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';

export const PREBUILT_BUNDLE = fileURLToPath(new URL('../workflow-bundle.js', import.meta.url));
const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows/index.js', import.meta.url));
/** Always bundled: with tracing off, the worker gives them a sink that drops the spans. */
const INTERCEPTOR_MODULES = [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

let bundle: Promise<WorkflowBundleOption> | undefined;
export function workflowBundle(): Promise<WorkflowBundleOption> {
  bundle ??= existsSync(PREBUILT_BUNDLE) ? Promise.resolve({ codePath: PREBUILT_BUNDLE }) : bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: INTERCEPTOR_MODULES, logger: quietLogger });
  return bundle;
}

export async function buildWorkflowBundle(): Promise<string> {
  return (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: INTERCEPTOR_MODULES, logger: quietLogger })).code;
}
