// A local HTTP server standing in for a host a token must never reach (or a configured host that redirects):
// it records the Authorization header of every request, and answers 401, serves its own repositories without
// authentication (a public host), or redirects every request to another base URL.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveGit } from './git-server.js';

export type TrapMode = { kind: 'deny' } | { kind: 'public' } | { kind: 'redirect'; to: string };

export interface TrapServer {
  url: string;
  host: string;
  /** Every request: method, path and the Authorization header it carried (if any). */
  requests: Array<{ method: string; path: string; authorization?: string }>;
  mode: TrapMode;
  /** A bare repository named `name`, copied from another bare repository (served in public mode). */
  copyRepo(name: string, fromBare: string): void;
  close(): Promise<void>;
}

export async function startTrapServer(mode: TrapMode): Promise<TrapServer> {
  const root = await mkdtemp(join(tmpdir(), 'trap-'));
  const trap = { requests: [] as TrapServer['requests'], mode } as TrapServer;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    trap.requests.push({ method: req.method ?? 'GET', path: url.pathname, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
    const current = trap.mode;
    if (current.kind === 'redirect') {
      res.writeHead(req.method === 'POST' ? 307 : 302, { location: `${current.to.replace(/\/$/, '')}${url.pathname}${url.search}` }).end();
      req.resume();
    } else if (current.kind === 'deny') {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="trap"', 'content-type': 'text/plain' }).end('authentication required\n');
      req.resume();
    } else {
      serveGit(root, url, req, res);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  trap.url = `http://127.0.0.1:${port}/`;
  trap.host = `127.0.0.1:${port}`;
  trap.copyRepo = (name, fromBare) => void execFileSync('git', ['clone', '--quiet', '--bare', fromBare, join(root, `${name}.git`)]);
  trap.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(root, { recursive: true, force: true });
  };
  return trap;
}
