// Writes the contract's JSON Schemas (contract-schemas.ts) into <repo>/schemas/, for clients in other languages.
// Run with `npm run schemas`; test/contract-schemas.test.ts fails when the files are out of date.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { contractSchemas } from '../contract-schemas.js';

// This file runs as dist/src/build/write-contract-schemas.js: the repository root is three levels up.
const dir = join(fileURLToPath(new URL('../../..', import.meta.url)), 'schemas');
await mkdir(dir, { recursive: true });
for (const [file, schema] of Object.entries(contractSchemas())) {
  await writeFile(join(dir, file), JSON.stringify(schema, null, 2) + '\n');
}
