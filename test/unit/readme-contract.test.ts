// The README's contract section says what the code does: every failure type, every search attribute command,
// and every JSON input of the `temporal` CLI example is accepted by the schema the workflow parses it with.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BranchInput, CancelInput, CloseInput, CodeInput, CommitInput, FAILURE_TYPES, OpenInput, PushInput } from '../../src/contract.js';
import { searchAttributeCommands } from '../../src/host/search-attributes-setup.js';

import { ROOT } from '../support/root.js';
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README contract section', () => {
  it('lists every failure type with its meaning, and no other', () => {
    const table = readme.slice(readme.indexOf('| type | meaning |'));
    const listed = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `([a-z_]+)` \| .+ \|$/gm)].map(([, type]) => type);
    assert.deepEqual(listed, Object.keys(FAILURE_TYPES));
  });

  it('gives the command to register every search attribute', () => {
    for (const command of searchAttributeCommands('default')) assert.ok(readme.includes(command), `missing: ${command}`);
  });

  it("every JSON input of the temporal CLI example is valid for the schema the workflow parses it with", () => {
    const schemas = { open: OpenInput, code: CodeInput, branch: BranchInput, commit: CommitInput, push: PushInput, close: CloseInput, cancel: CancelInput } as const;
    const calls = [...readme.matchAll(/--name (\w+) --input '([^']+)'/g)];
    assert.ok(calls.length >= 6, `found ${calls.length} example calls`);
    for (const [, name, input] of calls) {
      const schema = schemas[name as keyof typeof schemas];
      assert.ok(schema, `unknown update or signal in the README: ${name}`);
      const parsed = schema.safeParse(JSON.parse(input!));
      assert.ok(parsed.success, `README example for ${name} is refused: ${input}`);
    }
    for (const [, input] of readme.matchAll(/--(?:update-)?input '(\{"repo_url"[^']+)'/g)) assert.ok(OpenInput.safeParse(JSON.parse(input!)).success, input);
  });
});
