// The `coding.temporal` section: its schema, and where the Temporal connection comes from, the way Temporal
// users configure it: a temporal.toml profile, the `coding.temporal` keys of the config file, and the TEMPORAL_*
// variables (through @temporalio/envconfig), in that order of precedence, lowest first. Light on purpose (every
// command loads it with its config); connecting is client/connection.ts, through which every client, worker and
// MCP server connects.
import type { ConnectionOptions } from '@temporalio/client';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile, type ClientConfigTLS, type ConfigDataSource } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_NAMESPACE, DEFAULT_TASK_QUEUE } from './contract.js';

const positiveInt = () => z.number().int().positive();

const TemporalTlsConfig = z
  .object({
    enabled: z.boolean().optional().describe('Use TLS ($TEMPORAL_TLS wins). Implied by any other tls key or by an api_key; false turns TLS off.'),
    server_name: z.string().optional().describe('Name the server certificate must carry, when it is not the host of the address ($TEMPORAL_TLS_SERVER_NAME).'),
    server_ca_cert_path: z.string().optional().describe('PEM file of the CA that signed the server certificate; default the system roots ($TEMPORAL_TLS_SERVER_CA_CERT_PATH).'),
    server_ca_cert_data: z.string().optional().describe('The same CA as PEM text, usually ${VAR} ($TEMPORAL_TLS_SERVER_CA_CERT_DATA).'),
    client_cert_path: z.string().optional().describe('PEM file of this client’s certificate, for mTLS ($TEMPORAL_TLS_CLIENT_CERT_PATH).'),
    client_cert_data: z.string().optional().describe('The client certificate as PEM text ($TEMPORAL_TLS_CLIENT_CERT_DATA).'),
    client_key_path: z.string().optional().describe('PEM file of the client certificate’s private key ($TEMPORAL_TLS_CLIENT_KEY_PATH).'),
    client_key_data: z.string().optional().describe('The private key as PEM text, usually ${VAR} ($TEMPORAL_TLS_CLIENT_KEY_DATA). Masked when printed.'),
  })
  .strict();

export const TemporalConfig = z
  .object({
    address: z
      .string()
      .optional()
      .describe('host:port of the Temporal frontend. $TEMPORAL_ADDRESS wins, a temporal.toml profile fills it when unset here. Without any an embedded dev server is used.'),
    namespace: z.string().default(DEFAULT_NAMESPACE).describe('Temporal namespace ($TEMPORAL_NAMESPACE wins; a temporal.toml profile fills it when unset here).'),
    profile: z
      .string()
      .optional()
      .describe('Profile of the Temporal client config file (temporal.toml: $TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml) whose keys fill those not set here; $TEMPORAL_PROFILE wins; default "default".'),
    api_key: z.string().optional().describe('API key sent as a bearer token, e.g. for Temporal Cloud; turns TLS on ($TEMPORAL_API_KEY wins). Masked when printed.'),
    tls: TemporalTlsConfig.optional().describe('TLS / mTLS to the frontend; each key has a TEMPORAL_TLS_* variable that wins.'),
    task_queue: z.string().default(DEFAULT_TASK_QUEUE).describe('Shared task queue of workflows and session opening.'),
    worker_id: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional()
      .describe(
        'Identity of this host’s workspaces: activities on a workspace run on `<task_queue>@<worker_id>`. $STATION_WORKER_ID wins; default the host name. Must be stable across restarts (a container’s host name is not: set it, e.g. to a StatefulSet pod name).',
      ),
    embedded_port: positiveInt().default(7244).describe('Port of the embedded dev server (127.0.0.1).'),
    embedded_ui_port: positiveInt().default(8244).describe('Port of the embedded dev server’s web UI (127.0.0.1).'),
  })
  .strict();

export type TemporalSection = z.output<typeof TemporalConfig>;
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
