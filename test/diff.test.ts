// coding_diff through the session workflow: it answers while a task is still running (it only reads), never shows
// a secret the agent wrote into a file, and reads for a person at a terminal (files with counts, a coloured patch)
// while a pipe gets the JSON, or with --patch the patch alone.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import { cli, inTerminal, writeConfig } from './support/cli.js';
import { defaultScript } from './support/fake-anthropic.js';
import { waitFor } from './support/helpers.js';

describe('coding_diff', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  it('answers while a task runs, with the secret the agent wrote redacted; a person reads it at a terminal, a pipe gets JSON', async () => {
    const url = await w.git.createRepo('diff-session');
    const token = process.env[GIT_TOKEN_ENV]!;
    // This test's scripted model writes the token into a file on purpose; its requests are dropped from the fake's
    // log at the end, so that secrets.test.ts ("the token appears in no prompt" of its own sessions) reads only
    // conversations where no one put it.
    const firstRequest = w.claude.requests.length;
    w.claude.setScript(defaultScript({ file: 'leak.txt', content: `token=${token}\nline two\n`, command: 'sleep 6', finalText: 'Wrote leak.txt.' }));
    const { session_id, workspace_path } = await w.client.open({ repo_url: url, credentials: { token_env: GIT_TOKEN_ENV } });
    let taskDone = false;
    const task = w.client.code({ session_id, instruction: 'Write leak.txt, then wait' }).finally(() => (taskDone = true));
    await waitFor('the agent to write leak.txt', () => existsSync(join(workspace_path, 'leak.txt')), 60_000);

    const during = await w.client.diff({ session_id });
    assert.equal(taskDone, false, 'the diff did not wait for the running task');
    assert.deepEqual(during.files, [{ path: 'leak.txt', status: 'added', insertions: 2, deletions: 0 }]);
    assert.match(during.patch, /^\+token=\[redacted\]$/m);
    assert.ok(!JSON.stringify(during).includes(token), 'the token is not in the diff');
    assert.equal((await task).success, true);

    const env = { STATION_CONFIG: writeConfig(w.rawConfig), TEMPORAL_ADDRESS: w.temporal.address, NO_COLOR: undefined };
    const shown = inTerminal(['diff', session_id], env);
    assert.equal(await shown.exited, 0, shown.output());
    assert.match(shown.output(), /\x1b\[32m\+line two\x1b\[0m/, 'additions in green');
    const plain = shown.output().replace(/\x1b\[[0-9;]*m/g, '');
    assert.match(plain, /^1 file changed from [0-9a-f]{10} to the working tree: \+2 -0$/m);
    assert.match(plain, /^ A leak\.txt {2}\+2 -0$/m);
    const piped = await cli(['diff', session_id], env);
    assert.equal(JSON.parse(piped.stdout).files_changed, 1);
    const patch = await cli(['diff', session_id, '--patch', '--committed'], env);
    assert.equal(patch.code, 0, patch.stderr);
    assert.equal(patch.stdout, '', 'nothing committed yet');
    const bad = await cli(['diff', session_id, '--base', 'nowhere'], env);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^station-coding: base: nowhere is not a branch, tag or commit in the workspace/);
    await w.client.close({ session_id });
    w.claude.requests.splice(firstRequest);
  });
});
