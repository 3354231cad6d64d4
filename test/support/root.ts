// The project's root directory (tests run from dist/test/), for tests that read the sources or run the binaries.
import { resolve } from 'node:path';

export const ROOT = resolve(new URL('../../..', import.meta.url).pathname);
