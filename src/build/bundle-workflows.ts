// Prebuilds the workflow bundle at build time, so a worker (and every CLI command with the embedded
// default) starts in a second instead of bundling with webpack each time.
import { writeFile } from 'node:fs/promises';
import { buildWorkflowBundle, PREBUILT_BUNDLE } from '../workflow-bundle.js';

await writeFile(PREBUILT_BUNDLE, await buildWorkflowBundle());
