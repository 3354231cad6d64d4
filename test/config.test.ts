// Config loading rules that are easy to get wrong: variables inside lists, a literal "${", and `server stop`
// with a pid file that no longer names our server. No servers needed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCodingConfig } from '../src/config.js';
import { stopEmbeddedServer } from '../src/client/embedded-server.js';

describe('config', () => {
  it('a list item that expands to nothing is left out, not passed on as an empty string', () => {
    const config = parseCodingConfig({ claudecode: { allowed_tools: ['Read', '${UNSET_TOOL_VAR}', '${SET_TOOL_VAR}'] } }, { SET_TOOL_VAR: 'Write' });
    assert.deepEqual(config.claudecode.allowed_tools, ['Read', 'Write']);
  });

  it('$${ is a literal ${, not a variable', () => {
    const config = parseCodingConfig({ git: { user_name: 'Bot $${NOT_A_VAR} ${NAME}' } }, { NOT_A_VAR: 'expanded', NAME: 'x' });
    assert.equal(config.git.user_name, 'Bot ${NOT_A_VAR} x');
  });
});

describe('server stop', () => {
  it('a stale pid file naming another process is removed, and that process is never signalled', async () => {
    const saved = process.env.STATION_STATE_DIR;
    const state = mkdtempSync(join(tmpdir(), 'station-state-'));
    process.env.STATION_STATE_DIR = state;
    const bystander = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    try {
      mkdirSync(join(state, 'temporal'), { recursive: true });
      writeFileSync(join(state, 'temporal', 'server.pid'), String(bystander.pid));
      assert.equal(stopEmbeddedServer(), false);
      assert.ok(!existsSync(join(state, 'temporal', 'server.pid')), 'the stale pid file is gone');
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(bystander.exitCode, null, 'the bystander was not signalled');
      assert.equal(bystander.signalCode, null);
    } finally {
      bystander.kill('SIGKILL');
      if (saved === undefined) delete process.env.STATION_STATE_DIR;
      else process.env.STATION_STATE_DIR = saved;
    }
  });
});
