// A private git server for tests: real `git http-backend` behind HTTP basic auth on 127.0.0.1.
// Every request must carry x-access-token:<token>, as GitHub expects, or it gets a 401.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';

export interface GitServer {
  /** Base URL, e.g. http://127.0.0.1:PORT/ ; repositories are at <url><name>.git */
  url: string;
  token: string;
  root: string;
  /** Create a bare repository with one commit on `main` (README.md plus `files`); returns its clone URL. */
  createRepo(name: string, files?: Record<string, string>): Promise<string>;
  bareDir(name: string): string;
  /** Run git in a bare repository (for assertions). */
  git(name: string, ...args: string[]): string;
  requests: Array<{ method: string; path: string; authorized: boolean }>;
  close(): Promise<void>;
}

const GIT_ENV = { GIT_AUTHOR_NAME: 'Fixture', GIT_AUTHOR_EMAIL: 'fixture@example.com', GIT_COMMITTER_NAME: 'Fixture', GIT_COMMITTER_EMAIL: 'fixture@example.com' };

export async function startGitServer(token: string): Promise<GitServer> {
  const root = await mkdtemp(join(tmpdir(), 'git-server-'));
  const requests: GitServer['requests'] = [];
  const expected = `Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`;

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const authorized = req.headers.authorization === expected;
    requests.push({ method: req.method ?? 'GET', path: url.pathname, authorized });
    if (!authorized) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="git"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      req.resume();
      return;
    }
    serveGit(root, url, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const base = `http://127.0.0.1:${port}/`;
  const bareDir = (name: string) => join(root, `${name}.git`);
  const git = (name: string, ...args: string[]) => execFileSync('git', args, { cwd: bareDir(name), encoding: 'utf8', env: { ...process.env, ...GIT_ENV } });

  return {
    url: base,
    token,
    root,
    bareDir,
    git,
    requests,
    async createRepo(name, files = {}) {
      const bare = bareDir(name);
      await mkdir(dirname(bare), { recursive: true });
      execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch', 'main', bare]);
      const work = await mkdtemp(join(tmpdir(), 'git-seed-'));
      const run = (...args: string[]) => execFileSync('git', args, { cwd: work, env: { ...process.env, ...GIT_ENV }, stdio: 'pipe' });
      run('init', '--quiet', '--initial-branch', 'main');
      await writeFile(join(work, 'README.md'), `# ${name}\n`);
      for (const [path, content] of Object.entries(files)) {
        await mkdir(dirname(join(work, path)), { recursive: true });
        await writeFile(join(work, path), content);
      }
      run('add', '--all');
      run('commit', '--quiet', '-m', 'Initial commit');
      run('push', '--quiet', bare, 'main');
      await rm(work, { recursive: true, force: true });
      return `${base}${name}.git`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Run one request through git http-backend (CGI). REMOTE_USER being set enables pushes. */
export function serveGit(root: string, url: URL, req: IncomingMessage, res: ServerResponse): void {
  const child = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.replace(/^\?/, ''),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      HTTP_CONTENT_ENCODING: (req.headers['content-encoding'] as string | undefined) ?? '',
      GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
      REMOTE_USER: 'x-access-token',
      REMOTE_ADDR: '127.0.0.1',
    },
  });
  req.pipe(child.stdin);
  let head = Buffer.alloc(0);
  let headersDone = false;
  child.stdout.on('data', (chunk: Buffer) => {
    if (headersDone) {
      res.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    headersDone = true;
    let status = 200;
    for (const line of head.subarray(0, end).toString('utf8').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else res.setHeader(name, value);
    }
    res.writeHead(status);
    res.write(head.subarray(end + 4));
  });
  child.on('close', () => res.end());
  child.on('error', () => {
    res.writeHead(500);
    res.end();
  });
}
