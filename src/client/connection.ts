// Connecting to Temporal with the settings of ../temporal-config.ts: the client connection and the worker's,
// each failing with an error that names the address, whether TLS was used, and what to fix.
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { connectionOptions, type TemporalSection } from '../temporal-config.js';

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
