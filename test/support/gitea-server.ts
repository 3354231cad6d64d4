// A real forge for the pull-request tests: Gitea (built once per machine by test/forge/build-gitea.sh into the
// station-coding cache) on 127.0.0.1 with SQLite, in a throw-away work directory. Gitea refuses to run as root: as
// root it runs as nobody (uid 65534), owning its work directory. A user `bot` with an access token and its
// repositories are made through Gitea's own CLI and REST API.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, copyFileSync, cpSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './root.js';
import { freePort } from './temporal-server.js';

export interface GiteaServer {
  /** http://127.0.0.1:P */
  url: string;
  /** host:port, for coding.git.credentials */
  host: string;
  owner: string;
  token: string;
  /** Create a repository of `owner` with a first commit on main; returns its clone URL. */
  createRepo(name: string): Promise<string>;
  /** The REST API with the bot's token. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

const NOBODY = 65534;

/** The Gitea binary's directory (binary and options/), building it first if this machine has none yet. */
export function giteaHome(): string {
  const out = execFileSync('bash', [join(ROOT, 'test', 'forge', 'build-gitea.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').at(-1)!;
}

export async function startGitea(): Promise<GiteaServer> {
  const home = giteaHome();
  const port = await freePort();
  const work = mkdtempSync('/var/tmp/station-gitea-');
  mkdirSync(join(work, 'custom', 'conf'), { recursive: true });
  mkdirSync(join(work, 'data'), { recursive: true });
  const asRoot = process.getuid?.() === 0;
  // The cache is under root's HOME, which nobody cannot enter: the binary (hard-linked where it can be) and its
  // options/ come into the work directory.
  const binary = join(work, 'gitea');
  try {
    linkSync(join(home, 'gitea'), binary);
  } catch {
    copyFileSync(join(home, 'gitea'), binary);
  }
  cpSync(join(home, 'options'), join(work, 'options'), { recursive: true });
  const config = join(work, 'custom', 'conf', 'app.ini');
  writeFileSync(
    config,
    [
      `APP_NAME = station-coding test forge`,
      `RUN_USER = ${asRoot ? 'nobody' : (process.env.USER ?? 'root')}`,
      `WORK_PATH = ${work}`,
      `[server]`,
      `HTTP_ADDR = 127.0.0.1`,
      `HTTP_PORT = ${port}`,
      `ROOT_URL = http://127.0.0.1:${port}/`,
      `OFFLINE_MODE = true`,
      `DISABLE_SSH = true`,
      `APP_DATA_PATH = ${join(work, 'data')}`,
      `[database]`,
      `DB_TYPE = sqlite3`,
      `PATH = ${join(work, 'data', 'gitea.db')}`,
      `[security]`,
      `INSTALL_LOCK = true`,
      `[service]`,
      `DISABLE_REGISTRATION = true`,
      `[repository]`,
      `ROOT = ${join(work, 'repositories')}`,
      `DEFAULT_BRANCH = main`,
      `[log]`,
      `MODE = file`,
      `ROOT_PATH = ${join(work, 'log')}`,
      `LEVEL = Warn`,
      '',
    ].join('\n'),
  );
  if (asRoot) chownTree(work, NOBODY);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, GITEA_WORK_DIR: work, USER: asRoot ? 'nobody' : (process.env.USER ?? '') };
  const command = (args: string[]) => (asRoot ? { file: 'setpriv', args: ['--reuid', String(NOBODY), '--regid', String(NOBODY), '--clear-groups', binary, ...args] } : { file: binary, args });
  const run = (args: string[]) => {
    const { file, args: all } = command([...args, '--config', config]);
    return execFileSync(file, all, { env, cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  };

  const web = command(['web', '--config', config]);
  const child: ChildProcess = spawn(web.file, web.args, { env, cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gitea exited (${child.exitCode}): ${stderr}`);
    const up = await fetch(`${url}/api/v1/version`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) break;
    if (Date.now() > deadline) throw new Error(`gitea did not answer on ${url} within 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const owner = 'bot';
  run(['admin', 'user', 'create', '--username', owner, '--password', 'bot-password-1234', '--email', 'bot@test.invalid', '--admin', '--must-change-password=false']);
  const token = run(['admin', 'user', 'generate-access-token', '--username', owner, '--token-name', 'tests', '--scopes', 'all', '--raw']).trim();

  const api = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json', Accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`gitea ${method} ${path}: HTTP ${response.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
  return {
    url,
    host: `127.0.0.1:${port}`,
    owner,
    token,
    api,
    async createRepo(name: string) {
      const repo = await api('POST', '/user/repos', { name, auto_init: true, default_branch: 'main', readme: 'Default' });
      return repo.clone_url as string;
    },
    async close() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}

function chownTree(dir: string, uid: number): void {
  chownSync(dir, uid, uid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isSymbolicLink() || entry.name === 'gitea') continue; // the binary may be a link to the cached one
    if (entry.isDirectory()) chownTree(path, uid);
    else chownSync(path, uid, uid);
  }
}
