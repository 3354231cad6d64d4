// The workflow code a worker runs, as one bundle: prebuilt by `npm run build` (src/build/bundle-workflows),
// so a worker (and every CLI command on the embedded default) starts in a second; bundled on the fly if missing.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, type WorkflowBundleOption } from '@temporalio/worker';

/** Prebuilt by `npm run build`: without and with the OpenTelemetry workflow interceptors. */
export const PREBUILT_BUNDLES = {
  plain: fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url)),
  traced: fileURLToPath(new URL('../../workflow-bundle-traced.js', import.meta.url)),
};
const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.js', import.meta.url));
/**
 * Bundled only for a worker that traces. Every new workflow initializes its bundle's modules afresh, and these
 * made a session's first workflow task ~40% dearer, measured with 20 sessions opening at once.
 */
const INTERCEPTOR_MODULES = [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

const noop = () => {};
const quietLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: console.error, log: noop };

const bundles = new Map<boolean, Promise<WorkflowBundleOption>>();

/** The workflow code for a worker; `traced`: with the interceptors that carry spans through workflows. */
export function workflowBundle({ traced = false }: { traced?: boolean } = {}): Promise<WorkflowBundleOption> {
  const prebuilt = traced ? PREBUILT_BUNDLES.traced : PREBUILT_BUNDLES.plain;
  let bundle = bundles.get(traced);
  if (!bundle) {
    bundle = existsSync(prebuilt) ? Promise.resolve({ codePath: prebuilt }) : buildWorkflowBundle(traced).then((code) => ({ code }));
    bundles.set(traced, bundle);
  }
  return bundle;
}

export async function buildWorkflowBundle(traced: boolean): Promise<string> {
  return (await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: traced ? INTERCEPTOR_MODULES : [], logger: quietLogger })).code;
}
