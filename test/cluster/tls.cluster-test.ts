// mTLS to a real Temporal server, through the project's connection module. Run by `npm run test:cluster`
// (test/cluster/run.sh), which provides the natively built server, PostgreSQL and the SQL tool. The test makes
// its own CA, server and client certificates with openssl, and starts a second server with the shared
// deploy/temporal/config.yaml and its TLS variables, on databases of its own.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { loadConfig, parseCodingConfig } from '../../src/config.js';
import { connectClient, connectNative } from '../../src/client/connection.js';
import { portOpen } from '../../src/client/embedded-server.js';
import { freePort } from '../support/temporal-server.js';
import { ROOT } from '../support/world.js';

const need = ['STATION_TEST_TEMPORAL_SERVER', 'STATION_TEST_CLUSTER_WORK', 'SQL_TOOL', 'SQL_PORT', 'POSTGRES_PWD'];

describe('mTLS to a Temporal cluster', function () {
  let server: ChildProcess | undefined;
  let address = '';
  let dir = '';
  let log = '';

  before(async function () {
    this.timeout(180_000);
    const missing = need.filter((v) => !process.env[v]);
    if (missing.length) throw new Error(`run through \`npm run test:cluster\` (missing ${missing.join(', ')})`);
    dir = join(process.env.STATION_TEST_CLUSTER_WORK!, 'tls');
    mkdirSync(dir, { recursive: true });
    makeCertificates(dir);
    const databases = { DBNAME: 'temporal_tls', VISIBILITY_DBNAME: 'temporal_tls_visibility' };
    execFileSync('sh', [join(ROOT, 'deploy/temporal/setup-schema.sh')], { env: { ...process.env, ...databases }, stdio: 'pipe' });
    const port = await freePort();
    const ports: Record<string, string> = { FRONTEND_GRPC_PORT: String(port) };
    for (const name of ['FRONTEND_HTTP_PORT', 'HISTORY_GRPC_PORT', 'MATCHING_GRPC_PORT', 'WORKER_GRPC_PORT', 'FRONTEND_MEMBERSHIP_PORT', 'HISTORY_MEMBERSHIP_PORT', 'MATCHING_MEMBERSHIP_PORT', 'WORKER_MEMBERSHIP_PORT']) {
      ports[name] = String(await freePort());
    }
    server = spawn(process.env.STATION_TEST_TEMPORAL_SERVER!, ['--config-file', join(ROOT, 'deploy/temporal/config.yaml'), '--allow-no-auth', 'start'], {
      env: {
        ...process.env,
        ...databases,
        ...ports,
        TEMPORAL_TLS_FRONTEND_CERT: join(dir, 'server.pem'),
        TEMPORAL_TLS_FRONTEND_KEY: join(dir, 'server.key'),
        TEMPORAL_TLS_CLIENT_CA_CERT: join(dir, 'ca.pem'),
        TEMPORAL_TLS_SERVER_CA_CERT: join(dir, 'ca.pem'),
        TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'localhost',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [server.stdout!, server.stderr!]) stream.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    address = `127.0.0.1:${port}`;
    const deadline = Date.now() + 120_000;
    while (!(await portOpen('127.0.0.1', port))) {
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`the TLS server did not start: ${log}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  after(async () => {
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  });

  const temporal = (tls: Record<string, string> = {}) => parseCodingConfig({ temporal: { address, tls } }).temporal;
  const mtls = () => ({ server_ca_cert_path: join(dir, 'ca.pem'), client_cert_path: join(dir, 'client.pem'), client_key_path: join(dir, 'client.key') });

  it('connects with the CA and a client certificate (coding.temporal.tls), as client and as worker', async function () {
    this.timeout(120_000);
    const connection = await connectClient(temporal(mtls()));
    try {
      const info = await connection.workflowService.getSystemInfo({});
      assert.ok(info.capabilities, 'the server answered over mTLS');
      // The server's own system worker reached its frontend over mTLS too, or temporal-system would not exist.
      const system = await connection.workflowService.describeNamespace({ namespace: 'temporal-system' });
      assert.equal(system.namespaceInfo?.name, 'temporal-system');
    } finally {
      await connection.close();
    }
    const native = await connectNative(temporal(mtls()));
    await native.close();
  });

  it('connects from a temporal.toml profile and from TEMPORAL_TLS_* variables alone', async function () {
    this.timeout(60_000);
    const toml = join(dir, 'temporal.toml');
    writeFileSync(
      toml,
      `[profile.secure]\naddress = "${address}"\n[profile.secure.tls]\nserver_ca_cert_path = "${join(dir, 'ca.pem')}"\nclient_cert_path = "${join(dir, 'client.pem')}"\nclient_key_path = "${join(dir, 'client.key')}"\n`,
    );
    const file = join(dir, 'config.yaml');
    writeFileSync(file, YAML.stringify({ coding: {} }));
    const base = { HOME: dir, XDG_CONFIG_HOME: join(dir, 'none') };
    const fromProfile = loadConfig(file, { ...base, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'secure' }).config;
    const fromEnv = loadConfig(file, {
      ...base,
      TEMPORAL_ADDRESS: address,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'ca.pem'),
      TEMPORAL_TLS_CLIENT_CERT_PATH: join(dir, 'client.pem'),
      TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'client.key'),
    }).config;
    for (const config of [fromProfile, fromEnv]) {
      const connection = await connectClient(config.temporal);
      await connection.workflowService.getSystemInfo({});
      await connection.close();
    }
  });

  it('without the CA: a clear error naming the address, TLS and the keys to fix', async function () {
    this.timeout(60_000);
    const { server_ca_cert_path: _ca, ...noCa } = mtls();
    await assert.rejects(connectClient(temporal(noCa)), (err: Error) => {
      assert.match(err.message, new RegExp(`^cannot reach Temporal at ${address.replace(/\./g, '\\.')} over TLS: `));
      assert.match(err.message, /TLS handshake: .*certificate/i);
      assert.match(err.message, /check coding\.temporal\.tls \/ TEMPORAL_TLS_\* \(server_ca_cert_path/);
      return true;
    });
  });

  it('without a client certificate, or without TLS at all, the server refuses and the error says where', async function () {
    this.timeout(60_000);
    await assert.rejects(connectClient(temporal({ server_ca_cert_path: join(dir, 'ca.pem') })), (err: Error) => {
      assert.match(err.message, new RegExp(`^cannot reach Temporal at ${address.replace(/\./g, '\\.')} over TLS: TLS handshake: .*certificate required`));
      assert.match(err.message, /client_cert_path/);
      return true;
    });
    await assert.rejects(connectClient(parseCodingConfig({ temporal: { address } }).temporal), (err: Error) => {
      assert.match(err.message, new RegExp(`^cannot reach Temporal at ${address.replace(/\./g, '\\.')}: `));
      return true;
    });
  });
});

/** A CA, a server certificate for localhost / 127.0.0.1 (also the server's client certificate) and a client one. */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=station-coding test CA', '-keyout', 'ca.key', '-out', 'ca.pem');
  const leaf = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  leaf('server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
}
