// Where the Temporal connection comes from: a temporal.toml profile, coding.temporal, TEMPORAL_* variables (that
// order, lowest first), read by the real loader from real files. No servers: connecting over TLS is
// test/cluster/tls.cluster-test.ts (`npm run test:cluster`).
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ConfigError, loadConfig, maskConfig } from '../../src/config.js';
import { connectionOptions } from '../../src/temporal-config.js';
import { connectClient } from '../../src/client/connection.js';
import { freePort } from '../support/temporal-server.js';

const dir = mkdtempSync(join(tmpdir(), 'station-conn-'));
const toml = join(dir, 'temporal.toml');
writeFileSync(
  toml,
  `[profile.default]
address = "toml-default:7233"
namespace = "from-toml"

[profile.cloud]
address = "ns.acct.tmprl.cloud:7233"
namespace = "ns.acct"
api_key = "toml-api-key"

[profile.mtls]
address = "mtls.example:7233"
[profile.mtls.tls]
client_cert_path = "${join(dir, 'client.pem')}"
client_key_path = "${join(dir, 'client.key')}"
server_ca_cert_path = "${join(dir, 'ca.pem')}"
server_name = "temporal.internal"
`,
);

function configFile(temporal: Record<string, unknown>): string {
  const path = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, YAML.stringify({ coding: { temporal } }));
  return path;
}
/** An environment with nothing of this machine's: only what the test names. */
const env = (vars: Record<string, string> = {}) => ({ HOME: dir, XDG_CONFIG_HOME: join(dir, 'none'), TEMPORAL_CONFIG_FILE: toml, ...vars });

describe('temporal connection config', () => {
  it('with nothing configured there is no address (the embedded dev server is used)', () => {
    const { config } = loadConfig(configFile({}), { HOME: dir, XDG_CONFIG_HOME: join(dir, 'none') });
    assert.equal(config.temporal.address, undefined);
    assert.equal(config.temporal.namespace, 'default');
    assert.equal(config.temporal.tls, undefined);
  });

  it('the temporal.toml profile fills what the file leaves unset; the file wins over it; TEMPORAL_* win over both', () => {
    assert.deepEqual(pick(loadConfig(configFile({}), env()).config.temporal), { address: 'toml-default:7233', namespace: 'from-toml' });
    assert.deepEqual(pick(loadConfig(configFile({ address: 'file:7233' }), env()).config.temporal), { address: 'file:7233', namespace: 'from-toml' });
    assert.deepEqual(pick(loadConfig(configFile({ address: 'file:7233', namespace: 'file-ns' }), env({ TEMPORAL_ADDRESS: 'env:7233' })).config.temporal), {
      address: 'env:7233',
      namespace: 'file-ns',
    });
    assert.deepEqual(pick(loadConfig(configFile({ namespace: 'file-ns' }), env({ TEMPORAL_NAMESPACE: 'env-ns' })).config.temporal), {
      address: 'toml-default:7233',
      namespace: 'env-ns',
    });
  });

  it('a profile by name (coding.temporal.profile, TEMPORAL_PROFILE wins): an API key turns TLS on and is masked when printed', () => {
    const { config } = loadConfig(configFile({ profile: 'cloud' }), env());
    assert.equal(config.temporal.address, 'ns.acct.tmprl.cloud:7233');
    assert.equal(config.temporal.namespace, 'ns.acct');
    const options = connectionOptions(config.temporal);
    assert.equal(options.apiKey, 'toml-api-key');
    assert.equal(options.tls, true);
    assert.equal(maskConfig(config).temporal.api_key, '***');
    assert.ok(!JSON.stringify(maskConfig(config)).includes('toml-api-key'));
    assert.equal(loadConfig(configFile({ profile: 'cloud' }), env({ TEMPORAL_PROFILE: 'default' })).config.temporal.address, 'toml-default:7233');
  });

  it('TLS from a profile, overlaid key by key by coding.temporal.tls and TEMPORAL_TLS_*; a path replaces PEM text below it', () => {
    writeFileSync(join(dir, 'ca.pem'), 'CA');
    writeFileSync(join(dir, 'client.pem'), 'CERT');
    writeFileSync(join(dir, 'client.key'), 'KEY');
    const { config } = loadConfig(
      configFile({ profile: 'mtls', tls: { server_name: 'from-file', client_key_data: '${KEY_PEM}' } }),
      env({ TEMPORAL_TLS_SERVER_NAME: 'from-env', KEY_PEM: 'KEY FROM VAR' }),
    );
    assert.deepEqual(config.temporal.tls, {
      client_cert_path: join(dir, 'client.pem'),
      client_key_data: 'KEY FROM VAR',
      server_ca_cert_path: join(dir, 'ca.pem'),
      server_name: 'from-env',
    });
    const tls = connectionOptions(config.temporal).tls as { serverNameOverride?: string; serverRootCACertificate?: Uint8Array; clientCertPair?: { crt: Uint8Array; key: Uint8Array } };
    const text = (b?: Uint8Array) => Buffer.from(b ?? []).toString();
    assert.equal(tls.serverNameOverride, 'from-env');
    assert.equal(text(tls.serverRootCACertificate), 'CA');
    assert.equal(text(tls.clientCertPair?.crt), 'CERT');
    assert.equal(text(tls.clientCertPair?.key), 'KEY FROM VAR');
    assert.equal(maskConfig(config).temporal.tls?.client_key_data, '***');
    // TEMPORAL_TLS=false turns it off whatever the layers below say.
    const off = loadConfig(configFile({ profile: 'mtls' }), env({ TEMPORAL_TLS: 'false' })).config;
    assert.equal(connectionOptions(off.temporal).tls, false);
  });

  it('bad input is a clear error naming the file, the profile or the variable', () => {
    assert.throws(() => loadConfig(configFile({ profile: 'nope' }), env()), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, new RegExp(`Temporal client config ${toml.replace(/[.]/g, '\\.')} \\(profile nope\\): Profile 'nope' not found`));
      return true;
    });
    const broken = join(dir, 'broken.toml');
    writeFileSync(broken, '[profile.default\naddress = ');
    assert.throws(() => loadConfig(configFile({}), env({ TEMPORAL_CONFIG_FILE: broken })), /Temporal client config .*broken\.toml: /);
    assert.throws(() => loadConfig(configFile({}), env({ STATION_WORKER_ID: 'pod/0' })), /STATION_WORKER_ID: must be letters/);
    assert.equal(loadConfig(configFile({ worker_id: 'file-id' }), env({ STATION_WORKER_ID: 'station-worker-0' })).config.temporal.worker_id, 'station-worker-0');
    const { config } = loadConfig(configFile({ address: 'x:1', tls: { server_ca_cert_path: join(dir, 'missing-ca.pem') } }), env());
    assert.throws(() => connectionOptions(config.temporal), /coding\.temporal\.tls \/ TEMPORAL_TLS_\*: .*missing-ca\.pem/);
  });

  it('an unreachable cluster is an error naming the address and the fix, within the connect timeout', async () => {
    const port = await freePort();
    const { config } = loadConfig(configFile({ address: `127.0.0.1:${port}` }), env());
    const started = Date.now();
    await assert.rejects(connectClient(config.temporal), (err: Error) => {
      assert.match(err.message, new RegExp(`^cannot reach Temporal at 127\\.0\\.0\\.1:${port}: .*\\(start the cluster, or fix TEMPORAL_ADDRESS / coding\\.temporal\\.address`));
      return true;
    });
    assert.ok(Date.now() - started < 15_000);
  });
});

function pick(t: { address?: string; namespace: string }) {
  return { address: t.address, namespace: t.namespace };
}
