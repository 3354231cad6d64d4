// The contract's documentation says what the code does: every failure type (docs/contract.md), every search
// attribute command (docs/observability.md, where the contract's search attributes row points), and every JSON
// input of the `temporal` CLI example (docs/contract.md) is accepted by the schema the workflow parses it with.
// (These sections were the README's until it was cut to a newcomer's page.)
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BranchInput, CancelInput, CloseInput, CodeInput, CommitInput, DiffInput, FAILURE_TYPES, OpenInput, PrInput, PushInput, ReviewInput } from '../../src/contract.js';
import { searchAttributeCommands } from '../../src/host/search-attributes-setup.js';

import { ROOT } from '../support/root.js';
const contract = readFileSync(join(ROOT, 'docs', 'contract.md'), 'utf8');
const observability = readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8');

describe('the contract documentation (docs/contract.md)', () => {
  it('lists every failure type with its meaning, and no other', () => {
    const table = contract.slice(contract.indexOf('| type | meaning |'));
    const listed = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z_]+)` \| .+ \|$/gm)].map(([, type]) => type);
    assert.deepEqual(listed, Object.keys(FAILURE_TYPES));
  });

  it('gives the command to register every search attribute', () => {
    for (const command of searchAttributeCommands('default')) assert.ok(observability.includes(command), `missing in docs/observability.md: ${command}`);
  });

  it("every JSON input of the temporal CLI example is valid for the schema the workflow parses it with", () => {
    const schemas = { open: OpenInput, code: CodeInput, branch: BranchInput, commit: CommitInput, push: PushInput, diff: DiffInput, pr: PrInput, review: ReviewInput, close: CloseInput, cancel: CancelInput } as const;
    const calls = [...contract.matchAll(/--name (\w+) --input '([^']+)'/g)];
    assert.ok(calls.length >= 6, `found ${calls.length} example calls`);
    for (const [, name, input] of calls) {
      const schema = schemas[name as keyof typeof schemas];
      assert.ok(schema, `unknown update or signal in docs/contract.md: ${name}`);
      const parsed = schema.safeParse(JSON.parse(input!));
      assert.ok(parsed.success, `docs/contract.md example for ${name} is refused: ${input}`);
    }
    for (const [, input] of contract.matchAll(/--(?:update-)?input '(\{"repo_url"[^']+)'/g)) assert.ok(OpenInput.safeParse(JSON.parse(input!)).success, input);
  });
});
