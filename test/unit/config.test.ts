// Config loading rules that are easy to get wrong: variables inside lists, a literal "${", and `server stop`
// with a pid file that no longer names our server. No servers needed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import YAML from 'yaml';
import { parseCodingConfig } from '../../src/config.js';
import { BIN } from '../support/world.js';
import { stopEmbeddedServer } from '../../src/client/embedded-server.js';

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

describe('config masking', () => {
  it('`station-coding config` prints no secret: every value under a key naming a key, token, secret or password, at any depth', async () => {
    const secrets = ['sk-provider-1', 'sk-provider-2', 'hdr-secret', 'git-token-x', 'oc-password', 'env-value', 'nats-pass', 'client-secret'];
    const dir = mkdtempSync(join(tmpdir(), 'station-config-mask-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      YAML.stringify({
        coding: {
          git: { token: '${MASK_TEST_TOKEN}', token_env: 'GH_TOKEN', credentials: [{ host: 'gitlab.example', token_env: 'GL_TOKEN' }] },
          max_tokens: 5000,
          nats: { url: 'nats://user:nats-pass@127.0.0.1:4222' },
          claudecode: { env: { ANTHROPIC_BASE_URL: 'env-value' } },
          opencode: {
            password: 'oc-password',
            config: {
              provider: {
                one: { options: { apiKey: 'sk-provider-1', baseURL: 'http://127.0.0.1:1/v1', headers: { Authorization: 'hdr-secret' } } },
                two: { options: { api_key: 'sk-provider-2', nested: [{ client_secret: 'client-secret' }] } },
              },
            },
          },
        },
      }),
    );
    const printed = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [BIN.stationCoding, 'config'], { env: { ...process.env, STATION_CONFIG: file, MASK_TEST_TOKEN: 'git-token-x' } }, (err, stdout, stderr) =>
        resolve({ code: err ? 1 : 0, stdout, stderr }),
      ),
    );
    assert.equal(printed.code, 0, printed.stderr);
    for (const secret of secrets) assert.ok(!printed.stdout.includes(secret), `${secret} is printed`);
    const shown = JSON.parse(printed.stdout);
    // What is not a secret stays readable: variable names, hosts, URLs without credentials, numbers.
    assert.equal(shown.git.token_env, 'GH_TOKEN');
    assert.deepEqual(shown.git.credentials, [{ host: 'gitlab.example', token_env: 'GL_TOKEN' }]);
    assert.equal(shown.max_tokens, 5000);
    assert.equal(shown.opencode.config.provider.one.options.baseURL, 'http://127.0.0.1:1/v1');
    assert.equal(shown.opencode.config.provider.one.options.apiKey, '***');
    assert.equal(shown.opencode.config.provider.two.options.nested[0].client_secret, '***');
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
