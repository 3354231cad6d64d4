// The redactor's collection of secrets from a config and an environment, and the forms it cuts out. No servers.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCodingConfig } from '../../src/config.js';
import { Redactor } from '../../src/secrets/redact.js';

describe('redactor', () => {
  it('collects every configured secret and cuts out its plain, URL-encoded and basic-auth forms', () => {
    const creds = join(mkdtempSync(join(tmpdir(), 'redact-')), 'user.creds');
    const seed = `SU${'A'.repeat(56)}`;
    writeFileSync(creds, `-----BEGIN NATS USER JWT-----\neyJhbGciOi.eyJqdGkiOi.c2lnbmF0dXJl\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`);
    const env = { GH: 'ghp_token_value_1', CLOUD_SECRET: 'cloud/secret+value', SSH_AUTH_SOCK: '/tmp/ssh-x/agent.1', PLAIN: 'not-a-secret-value' };
    const config = parseCodingConfig(
      {
        git: { token_env: 'GH' },
        opencode: { password: 'server-password', env: { OPENAI_API_KEY: 'sk-openai-value' }, config: { provider: { p: { options: { apiKey: 'nested-api-key' } } } } },
        nats: { url: 'nats://user:nats-password@127.0.0.1:4222', creds_file: creds },
      },
      env,
    );
    const redactor = Redactor.fromConfig(config, env);
    const secrets = ['ghp_token_value_1', 'cloud/secret+value', 'server-password', 'sk-openai-value', 'nested-api-key', 'nats-password', 'eyJhbGciOi.eyJqdGkiOi.c2lnbmF0dXJl', seed];
    for (const secret of secrets) assert.equal(redactor.text(`a ${secret} b`), 'a [redacted] b', secret);
    assert.equal(redactor.text(encodeURIComponent('cloud/secret+value')), '[redacted]');
    assert.equal(redactor.text(Buffer.from('x-access-token:ghp_token_value_1').toString('base64')), '[redacted]');
    // Paths and variables that do not name a secret stay.
    assert.equal(redactor.text('/tmp/ssh-x/agent.1 not-a-secret-value'), '/tmp/ssh-x/agent.1 not-a-secret-value');
  });

  it('redacts every string of a result, keys too, and an error’s message, keeping its class', () => {
    const redactor = new Redactor(['s3cr3t-value']).with('session-token-1');
    const out = redactor.deep({ summary: 'has s3cr3t-value', tool_calls: [{ tool: 'bash', input: { 'session-token-1': 1 }, output: 'session-token-1' }], cost: 1 });
    assert.deepEqual(out, { summary: 'has [redacted]', tool_calls: [{ tool: 'bash', input: { '[redacted]': 1 }, output: '[redacted]' }], cost: 1 });
    const error = redactor.error(new TypeError('failed with s3cr3t-value'));
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, 'failed with [redacted]');
    assert.ok(!error.stack?.includes('s3cr3t-value'));
  });
});
