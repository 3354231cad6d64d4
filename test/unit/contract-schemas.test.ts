// The JSON Schema files in schemas/ are what clients in other languages validate against: they must match
// contract.ts exactly (regenerate with `npm run schemas`) and say what the zod schemas say.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { contractSchemas } from '../../src/contract-schemas.js';
import { FAILURE_TYPES, UPDATES, WORKFLOW_TYPE } from '../../src/contract.js';

// Computed here rather than imported from support/world.ts, which loads the Temporal worker and client.
import { ROOT } from '../support/root.js';
const SCHEMAS = join(ROOT, 'schemas');

describe('contract schemas', function () {
  const schemas = contractSchemas();
  const load = async (file: string): Promise<any> => JSON.parse(await readFile(join(SCHEMAS, file), 'utf8'));

  it('schemas/ holds exactly the files contractSchemas() produces, up to date', async () => {
    for (const [file, schema] of Object.entries(schemas)) {
      const onDisk = await readFile(join(SCHEMAS, file), 'utf8').catch(() => undefined);
      assert.equal(onDisk, JSON.stringify(schema, null, 2) + '\n', `schemas/${file} is out of date: run npm run schemas`);
    }
    const extra = (await readdir(SCHEMAS)).filter((f) => f.endsWith('.json') && !(f in schemas));
    assert.deepEqual(extra, [], `schemas/ holds files contractSchemas() does not produce: ${extra.join(', ')}`);
  });

  it('contract.json indexes every file and names the workflow, updates, query, signal and failure types', async () => {
    const index = await load('contract.json');
    assert.equal(index.workflow_type, WORKFLOW_TYPE);
    assert.deepEqual(Object.keys(index.updates), Object.values(UPDATES));
    assert.deepEqual(index.query, { name: 'status', result: 'status.result.json' });
    assert.deepEqual(index.signal, { name: 'cancel', input: 'cancel.input.json' });
    assert.equal(index.start_input, 'start.input.json');
    assert.deepEqual(index.failure_types, FAILURE_TYPES);
    const named = [index.start_input, index.query.result, index.signal.input, ...Object.values(index.updates).flatMap((u: any) => [u.input, u.result])];
    assert.deepEqual(named.sort(), Object.keys(schemas).filter((f) => f !== 'contract.json').sort());
    for (const file of named) {
      const schema = await load(file);
      assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema', file);
      assert.equal(schema.$id, `https://station-coding/schemas/${file}`, file);
      assert.equal(typeof schema.title, 'string', file);
    }
  });

  it('start.input.json: the open request, strict, with scope agent|workflow defaulting to agent', async () => {
    const start = await load('start.input.json');
    assert.equal(start.type, 'object');
    assert.equal(start.additionalProperties, false);
    assert.equal(start.properties.repo_url.type, 'string');
    assert.deepEqual(start.properties.scope.enum, ['agent', 'workflow']);
    assert.equal(start.properties.scope.default, 'agent');
    assert.equal(start.required, undefined, 'every open field is optional');
    // Credentials: its transform is invisible in input mode; token_env is the only documented key.
    assert.deepEqual(Object.keys(start.properties.credentials.properties), ['token_env']);
    const { $id, title, ...open } = await load('open.input.json');
    const { $id: _id, title: _title, ...rest } = start;
    assert.deepEqual(open, rest, 'the workflow start input and the open update input are the same JSON');
  });

  it('inputs require what the workflow requires; results and status are output shapes', async () => {
    assert.deepEqual((await load('code.input.json')).required, ['instruction']);
    assert.equal((await load('code.input.json')).additionalProperties, false);
    assert.deepEqual((await load('branch.input.json')).required, ['branch']);
    assert.deepEqual((await load('commit.input.json')).required, ['message']);
    assert.equal((await load('push.input.json')).properties.remote.default, 'origin');
    assert.equal((await load('cancel.input.json')).required, undefined);
    const status = await load('status.result.json');
    assert.ok(status.required.includes('state'));
    assert.deepEqual(status.properties.state.enum, ['opening', 'open', 'awaiting_approval', 'closing', 'closed', 'failed']);
    const code = await load('code.result.json');
    assert.deepEqual(code.required, ['success', 'summary', 'files_changed', 'trace']);
    assert.deepEqual((await load('close.result.json')).properties.reason.enum, ['closed', 'idle_timeout', 'cancelled', 'approval_timeout']);
    assert.deepEqual((await load('review.input.json')).required, ['decision']);
  });
});
