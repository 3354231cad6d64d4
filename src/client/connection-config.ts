// Where the Temporal connection comes from, the way Temporal users configure it: a temporal.toml profile, the
// `coding.temporal` keys of the config file, and the TEMPORAL_* variables (through @temporalio/envconfig), in
// that order of precedence, lowest first. Every client, worker and MCP server connects through this module.
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ClientConfigTLS, type ConfigDataSource } from '@temporalio/envconfig';
import { NativeConnection } from '@temporalio/worker';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { CodingConfig } from '../config.js';

type TemporalSection = CodingConfig['temporal'];
type TlsSection = NonNullable<TemporalSection['tls']>;

/** The keys a temporal.toml profile or a TEMPORAL_* variable can give, in the shape of `coding.temporal`. */
type ProfileKeys = Pick<TemporalSection, 'address' | 'api_key' | 'tls'> & { namespace?: string };

/**
 * Fill `temporal` (parsed from the config file; `explicit` lists the keys the file really set) from the
 * temporal.toml profile where the file is silent, then let every TEMPORAL_* variable win. Throws a plain
 * Error naming the file or variable when a profile cannot be read.
 */
export function applyTemporalSources(temporal: TemporalSection, explicit: string[], env: NodeJS.ProcessEnv): void {
  const vars = env as Record<string, string>;
  const profileName = env.TEMPORAL_PROFILE || temporal.profile;
  let fromFile: ProfileKeys;
  try {
    fromFile = fromProfile(loadClientConfigProfile({ profile: profileName, disableEnv: true, overrideEnvVars: vars }));
  } catch (err) {
    const file = env.TEMPORAL_CONFIG_FILE ?? '~/.config/temporalio/temporal.toml';
    throw new Error(`Temporal client config ${file}${profileName ? ` (profile ${profileName})` : ''}: ${(err as Error).message.split('\n')[0]} (fix the file, or set TEMPORAL_PROFILE / coding.temporal.profile)`);
  }
  const fromEnv = fromProfile(loadClientConfigProfile({ disableFile: true, overrideEnvVars: vars }));
  // The schema gives namespace a default; only a namespace the file really sets outranks the profile's.
  const fromConfig: ProfileKeys = {
    address: temporal.address,
    namespace: explicit.includes('namespace') ? temporal.namespace : undefined,
    api_key: temporal.api_key,
    tls: temporal.tls,
  };
  temporal.address = fromEnv.address ?? fromConfig.address ?? fromFile.address;
  temporal.namespace = fromEnv.namespace ?? fromConfig.namespace ?? fromFile.namespace ?? temporal.namespace;
  temporal.api_key = fromEnv.api_key ?? fromConfig.api_key ?? fromFile.api_key;
  const tls = [fromFile.tls, fromConfig.tls, fromEnv.tls].reduce<TlsSection>(overlayTls, {});
  temporal.tls = Object.keys(tls).length > 0 ? tls : undefined;
}

/** The options of Connection.connect / NativeConnection.connect for `address` (default: the configured one). */
export function connectionOptions(temporal: TemporalSection, address = temporal.address): ConnectionOptions & { address: string } {
  if (!address) throw new Error('no Temporal address: set TEMPORAL_ADDRESS, coding.temporal.address or a temporal.toml profile');
  let connectionOptions: ReturnType<typeof toClientOptions>['connectionOptions'];
  try {
    connectionOptions = toClientOptions(toProfile(temporal, address)).connectionOptions;
  } catch (err) {
    // A certificate file that cannot be read.
    throw new Error(`coding.temporal.tls / TEMPORAL_TLS_*: ${(err as Error).message.split('\n')[0]}`);
  }
  // Long enough for a cluster under load or a TLS handshake across regions, short enough to fail clearly.
  return { address, apiKey: connectionOptions.apiKey, tls: connectionOptions.tls ?? undefined, metadata: connectionOptions.metadata, connectTimeout: '10 seconds' };
}

/** A client connection, or an error naming the address, whether TLS was used, and where to fix it. */
export async function connectClient(temporal: TemporalSection, address?: string): Promise<Connection> {
  const options = connectionOptions(temporal, address);
  return Connection.connect(options).catch(async (err: Error) => {
    throw connectError(options, err, await tlsProblem(options));
  });
}

/** The worker's (Rust core) connection, with the same options and errors as connectClient. */
export async function connectNative(temporal: TemporalSection, address?: string): Promise<NativeConnection> {
  const options = connectionOptions(temporal, address);
  return NativeConnection.connect({ address: options.address, apiKey: temporal.api_key, tls: options.tls, metadata: options.metadata }).catch(async (err: Error) => {
    throw connectError(options, err, await tlsProblem(options));
  });
}

function connectError(options: { address: string; tls?: unknown }, err: Error, tlsReason: string | undefined): Error {
  const detail = tlsReason ? `TLS handshake: ${tlsReason}` : err.message.split('\n')[0];
  const tls = options.tls ? ' over TLS' : '';
  const hint = tlsReason || /certificate|UnknownIssuer|handshake|tls|ssl/i.test(err.message)
    ? 'check coding.temporal.tls / TEMPORAL_TLS_* (server_ca_cert_path, client_cert_path, client_key_path, server_name)'
    : 'start the cluster, or fix TEMPORAL_ADDRESS / coding.temporal.address / the temporal.toml profile';
  return new Error(`cannot reach Temporal at ${options.address}${tls}: ${detail} (${hint})`);
}

/**
 * gRPC reports a refused TLS handshake only as "failed to connect before the deadline". One plain TLS handshake
 * with the same settings tells why (an unknown CA, a name mismatch, a refused client certificate).
 */
async function tlsProblem(options: ConnectionOptions & { address: string }): Promise<string | undefined> {
  if (!options.tls) return undefined;
  const t = options.tls === true ? {} : options.tls;
  const colon = options.address.lastIndexOf(':');
  const host = options.address.slice(0, colon);
  const port = Number(options.address.slice(colon + 1));
  const servername = t.serverNameOverride ?? (isIP(host) ? undefined : host);
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host,
      port,
      servername,
      ca: t.serverRootCACertificate ? Buffer.from(t.serverRootCACertificate) : undefined,
      cert: t.clientCertPair ? Buffer.from(t.clientCertPair.crt) : undefined,
      key: t.clientCertPair ? Buffer.from(t.clientCertPair.key) : undefined,
      ALPNProtocols: ['h2'],
      // With TLS 1.3 the server refuses a missing client certificate after the client's handshake is done: wait
      // briefly for that alert.
    });
    const done = (reason: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reason);
    };
    const timer = setTimeout(() => done(undefined), 3000);
    socket.once('secureConnect', () => setTimeout(() => done(undefined), 500));
    socket.once('error', (err: NodeJS.ErrnoException) => done(describeTlsError(err)));
  });
}

/** "self-signed certificate in certificate chain", "tlsv13 alert certificate required"; undefined if not TLS. */
function describeTlsError(err: NodeJS.ErrnoException): string | undefined {
  const code = err.code ?? '';
  // OpenSSL's own messages are a line of internals; its error code says the same in words.
  if (code.startsWith('ERR_SSL_')) return code.slice('ERR_SSL_'.length).toLowerCase().replace(/_/g, ' ');
  if (code && !/^E[A-Z]+$/.test(code)) return `${err.message} (${code})`;
  return undefined;
}

function fromProfile(profile: ClientConfigProfile): ProfileKeys {
  const tls = profile.tls;
  return {
    address: profile.address,
    namespace: profile.namespace,
    api_key: profile.apiKey,
    tls: tls
      ? definedOnly({
          enabled: tls.disabled === undefined ? undefined : !tls.disabled,
          server_name: tls.serverName,
          server_ca_cert_path: pathOf(tls.serverCACert),
          server_ca_cert_data: dataOf(tls.serverCACert),
          client_cert_path: pathOf(tls.clientCert),
          client_cert_data: dataOf(tls.clientCert),
          client_key_path: pathOf(tls.clientKey),
          client_key_data: dataOf(tls.clientKey),
        })
      : undefined,
  };
}

function toProfile(temporal: TemporalSection, address: string): ClientConfigProfile {
  const t = temporal.tls;
  // Any TLS key means TLS, unless it is turned off explicitly.
  const tls: ClientConfigTLS | undefined = t
    ? {
        disabled: t.enabled === false,
        serverName: t.server_name,
        serverCACert: source(t.server_ca_cert_path, t.server_ca_cert_data),
        clientCert: source(t.client_cert_path, t.client_cert_data),
        clientKey: source(t.client_key_path, t.client_key_data),
      }
    : undefined;
  return { address, namespace: temporal.namespace, apiKey: temporal.api_key, tls };
}

function source(path?: string, data?: string): ConfigDataSource | undefined {
  if (data) return { data };
  return path ? { path } : undefined;
}
function pathOf(s?: ConfigDataSource): string | undefined {
  return s && 'path' in s ? s.path : undefined;
}
function dataOf(s?: ConfigDataSource): string | undefined {
  return s && 'data' in s ? (typeof s.data === 'string' ? s.data : Buffer.from(s.data).toString('utf8')) : undefined;
}
/** `upper` over `lower`, where a file path in one layer replaces the PEM text of the same item below, and back. */
function overlayTls(lower: TlsSection, upper: TlsSection | undefined): TlsSection {
  const merged: TlsSection = { ...lower };
  for (const [key, value] of Object.entries(definedOnly(upper)) as Array<[keyof TlsSection, never]>) {
    merged[key] = value;
    const twin = key.endsWith('_path') ? key.replace(/_path$/, '_data') : key.endsWith('_data') ? key.replace(/_data$/, '_path') : undefined;
    if (twin) delete merged[twin as keyof TlsSection];
  }
  return merged;
}
function definedOnly<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
