// Prebuilds the workflow bundle at build time, so a worker (and every CLI command with the embedded
// default) starts in a second instead of bundling with webpack each time.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildWorkflowBundle } from '../worker.js';

const target = fileURLToPath(new URL('../../workflow-bundle.js', import.meta.url));
await writeFile(target, await buildWorkflowBundle());
