// A real nats-server (the Debian package, 2.9+) with JetStream on 127.0.0.1 for the opencode-nats tests.
// It runs in operator mode (JWT accounts, memory resolver): anonymous clients are refused and every process
// connects with a creds file, the way a multi-tenant deployment does. The JWTs are made here with the
// nkeys that ship with the NATS client.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { portOpen } from '../../src/client/embedded-server.js';
import { freePort } from './temporal-server.js';

export interface NatsServer {
  url: string;
  /** A user creds file of the account that has JetStream. */
  credsFile: string;
  /** The user's seed and JWT, for "never in a message" checks. */
  secrets: string[];
  version: string;
  stop(): Promise<void>;
}

export const NATS_SERVER_MISSING =
  'nats-server is not installed: apt-get install -y nats-server (Debian/Ubuntu package, 2.9 or later; or put nats-server on PATH, or set NATS_SERVER_PATH)';

export function findNatsServer(): string | undefined {
  if (process.env.NATS_SERVER_PATH) return existsSync(process.env.NATS_SERVER_PATH) ? process.env.NATS_SERVER_PATH : undefined;
  // Debian installs it in /usr/sbin, which is not on every user's PATH.
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/local/bin'];
  return dirs.map((dir) => join(dir, 'nats-server')).find((path) => path.startsWith('/') && existsSync(path));
}

export async function startNatsServer(): Promise<NatsServer> {
  const binary = findNatsServer();
  if (!binary) throw new Error(NATS_SERVER_MISSING);
  const version = execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'nats-'));
  const operator = nkeys.createOperator();
  const account = nkeys.createAccount();
  const system = nkeys.createAccount();
  const user = nkeys.createUser();
  const unlimited = { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 };
  const operatorJwt = jwt(operator, pub(operator), 'station-test-operator', { type: 'operator', system_account: pub(system) });
  const accountJwt = jwt(operator, pub(account), 'station-test', {
    type: 'account',
    limits: { ...unlimited, mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1 },
  });
  const systemJwt = jwt(operator, pub(system), 'SYS', { type: 'account', limits: unlimited });
  const userJwt = jwt(account, pub(user), 'station-test-user', { type: 'user', pub: {}, sub: {}, subs: -1, data: -1, payload: -1 });
  const seed = new TextDecoder().decode(user.getSeed());
  writeFileSync(join(dir, 'operator.jwt'), operatorJwt);
  writeFileSync(
    join(dir, 'server.conf'),
    [
      `operator: ${join(dir, 'operator.jwt')}`,
      `system_account: ${pub(system)}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${pub(account)}: "${accountJwt}"`,
      `  ${pub(system)}: "${systemJwt}"`,
      '}',
      '',
    ].join('\n'),
  );
  const credsFile = join(dir, 'user.creds');
  writeFileSync(
    credsFile,
    `-----BEGIN NATS USER JWT-----\n${userJwt}\n------END NATS USER JWT------\n\n` +
      `************************* IMPORTANT *************************\nNKEY Seed printed below can be used to sign and prove identity.\n\n` +
      `-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n`,
    { mode: 0o600 },
  );
  const port = await freePort();
  const child: ChildProcess = spawn(binary, ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', join(dir, 'store'), '-c', join(dir, 'server.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const deadline = Date.now() + 15_000;
  while (!(await portOpen('127.0.0.1', port))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nats-server did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    credsFile,
    secrets: [seed, userJwt],
    version,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

type KeyPair = ReturnType<typeof nkeys.createUser>;

function pub(kp: KeyPair): string {
  return String(kp.getPublicKey());
}

/** A NATS JWT (v2 claims) signed with the issuer's nkey. */
function jwt(issuer: KeyPair, subject: string, name: string, nats: Record<string, unknown>): string {
  const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
  const claims: Record<string, unknown> = { iat: Math.floor(Date.now() / 1000), iss: pub(issuer), name, sub: subject, nats: { ...nats, version: 2 } };
  claims.jti = createHash('sha256').update(JSON.stringify(claims)).digest('hex').slice(0, 52).toUpperCase();
  const signing = `${b64({ typ: 'JWT', alg: 'ed25519-nkey' })}.${b64(claims)}`;
  return `${signing}.${Buffer.from(issuer.sign(new TextEncoder().encode(signing))).toString('base64url')}`;
}
