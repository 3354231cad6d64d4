// Prebuilds the workflow bundle at build time, so a worker (and every CLI command with the embedded
// default) starts in a second instead of bundling with webpack each time.
import { writeFile } from 'node:fs/promises';
import { buildWorkflowBundle, PREBUILT_BUNDLES } from '../host/workflow-bundle.js';

await writeFile(PREBUILT_BUNDLES.plain, await buildWorkflowBundle(false));
await writeFile(PREBUILT_BUNDLES.traced, await buildWorkflowBundle(true));
