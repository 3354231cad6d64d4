// Where the Temporal connection comes from, the way Temporal users configure it: a temporal.toml profile, the
// `coding.temporal` keys of the config file, and the TEMPORAL_* variables (through @temporalio/envconfig), in
// that order of precedence, lowest first. Light on purpose (every command loads it with its config); connecting
// is ./connection.ts, through which every client, worker and MCP server connects.
import type { ConnectionOptions } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ClientConfigTLS, type ConfigDataSource } from '@temporalio/envconfig';
import type { CodingConfig } from '../config.js';

export type TemporalSection = CodingConfig['temporal'];
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
