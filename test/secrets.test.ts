// A whole session with a known git token, then a search for it everywhere it must never be: the full
// workflow history (as the real `temporal` CLI shows it), the worker's logs, the workspace's .git/config,
// every result, every prompt the model received, and the environment the coding agent ran in.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import { LOCAL_BACKENDS, decodePayloads } from './support/helpers.js';
import { defaultScript } from './support/fake-anthropic.js';

describe('secrets', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  for (const backend of LOCAL_BACKENDS) {
    it(`the git token appears nowhere after a full session on ${backend.name}`, async () => {
      const repo = `secret-${backend.name}`;
      const url = await w.git.createRepo(repo);
      const authorizedBefore = w.git.requests.filter((r) => r.authorized).length;
      backend.script(w, { file: 'secret-check.txt', content: 'checked\n', command: 'env > env-dump.txt', finalText: 'Checked.' });
      const results: unknown[] = [];
      const opened = await w.client.open({ repo_url: url, backend: backend.name, cleanup_policy: 'manual', credentials: { token_env: GIT_TOKEN_ENV } });
      results.push(opened);
      const { session_id, workspace_path } = opened;
      results.push(await w.client.branch({ session_id, branch: 'feature/secret', create: true }));
      const code = await w.client.code({ session_id, instruction: 'Dump the environment' });
      assert.equal(code.success, true, code.error);
      results.push(code);
      results.push(await w.client.commit({ session_id, message: 'Check secrets' }));
      results.push(await w.client.push({ session_id }));
      results.push(await w.client.status(session_id));
      results.push(await w.client.close({ session_id }));
      assert.ok(w.git.requests.filter((r) => r.authorized).length > authorizedBefore, 'the token was really used by clone and push');

      const forms = [w.token, Buffer.from(`x-access-token:${w.token}`).toString('base64')];
      const history = execFileSync(w.temporal.cli, ['workflow', 'show', '--workflow-id', session_id, '--output', 'json', '--address', w.temporal.address], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      const decodedHistory = `${history}\n${decodePayloads(JSON.parse(history)).join('\n')}`;
      assert.ok(decodedHistory.includes('Dump the environment'), 'the history is the real one');
      const places: Record<string, string> = {
        'workflow history': decodedHistory,
        'worker logs': w.logs.join('\n'),
        '.git/config': readFileSync(join(workspace_path, '.git', 'config'), 'utf8'),
        results: JSON.stringify(results),
        prompts: JSON.stringify(backend.mainRequests(w).map((r) => r.body)),
        'agent environment': readFileSync(join(workspace_path, 'env-dump.txt'), 'utf8'),
      };
      for (const [place, text] of Object.entries(places)) {
        for (const form of forms) assert.ok(!text.includes(form), `the token appears in the ${place}`);
      }
      assert.ok(!places['agent environment']!.includes(GIT_TOKEN_ENV), 'the agent does not inherit the worker environment');
    });
  }
});

describe('secrets against a hostile workspace', function () {
  it('hooks, fsmonitor and proxies the agent plants in .git never see the token', async () => {
    const w = await getWorld();
    const url = await w.git.createRepo('hostile');
    const dir = mkdtempSync(join(tmpdir(), 'leak-'));
    const plant = [
      `printf '#!/bin/sh\\nenv > ${dir}/pre-push.env\\n' > .git/hooks/pre-push`,
      'chmod +x .git/hooks/pre-push',
      `git config core.fsmonitor 'env > ${dir}/fsmonitor.env; false'`,
      `git config core.hooksPath .git/hooks`,
    ].join(' && ');
    w.claude.setScript(defaultScript({ file: 'hostile.txt', content: 'h\n', command: plant, finalText: 'Planted.' }));
    const { session_id, workspace_path } = await w.client.open({ repo_url: url, cleanup_policy: 'manual' });
    const code = await w.client.code({ session_id, instruction: 'Plant traps' });
    assert.equal(code.success, true, code.error);
    assert.ok(existsSync(join(workspace_path, '.git/hooks/pre-push')), 'the hook was planted');
    await w.client.commit({ session_id, message: 'hostile' });
    await w.client.push({ session_id });
    assert.equal(w.git.git('hostile', 'show', 'main:hostile.txt'), 'h\n', 'the push went through');
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      assert.ok(!text.includes(w.token) && !text.includes(Buffer.from(`x-access-token:${w.token}`).toString('base64')), `the token leaked into ${file}`);
    }
    assert.ok(!existsSync(join(dir, 'pre-push.env')), 'the planted pre-push hook did not run');

    execFileSync('git', ['config', 'http.proxy', 'http://127.0.0.1:9'], { cwd: workspace_path });
    await assert.rejects(w.client.push({ session_id }), /refusing to push with the git token: the workspace's \.git\/config sets http\.proxy/);
    await w.client.close({ session_id });
  });
});
