// The embedded default: a Temporal dev server on 127.0.0.1 that keeps its state in SQLite under the state
// directory. Started on first use and left running for later commands (sessions outlive one command);
// `station-coding server stop` stops it.
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { CodingConfig } from '../config.js';
import { stateDir } from '../paths.js';
import { ensureTemporalCli } from './temporal-cli.js';

export interface EmbeddedServerInfo {
  address: string;
  uiUrl: string;
  dbFile: string;
  logFile: string;
  started: boolean;
}

function files() {
  const dir = join(stateDir(), 'temporal');
  return { dir, db: join(dir, 'temporal.db'), log: join(dir, 'server.log'), pid: join(dir, 'server.pid') };
}

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function ensureEmbeddedServer(config: CodingConfig, log: (line: string) => void = () => {}): Promise<EmbeddedServerInfo> {
  const { embedded_port: port, embedded_ui_port: uiPort, namespace } = config.temporal;
  const f = files();
  const info = { address: `127.0.0.1:${port}`, uiUrl: `http://127.0.0.1:${uiPort}`, dbFile: f.db, logFile: f.log, started: false };
  if (await portOpen('127.0.0.1', port)) return info;

  const binary = ensureTemporalCli(log);
  mkdirSync(f.dir, { recursive: true });
  const out = openSync(f.log, 'a');
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort), '--db-filename', f.db, '--namespace', namespace, '--log-level', 'warn'];
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', out, out] });
  child.unref();
  writeFileSync(f.pid, String(child.pid));
  log(`started the embedded Temporal dev server on ${info.address} (UI ${info.uiUrl}, state ${f.db})`);

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await portOpen('127.0.0.1', port)) return { ...info, started: true };
    await sleep(250);
  }
  const tail = readFileSync(f.log, 'utf8').trim().split('\n').slice(-3).join(' | ');
  throw new Error(`the embedded Temporal dev server did not start on ${info.address} (log ${f.log}: ${tail})`);
}

/** Stop the embedded server this machine started. Returns false if none was running. */
export function stopEmbeddedServer(): boolean {
  const f = files();
  let pid: number;
  try {
    pid = Number(readFileSync(f.pid, 'utf8'));
  } catch {
    return false;
  }
  rmSync(f.pid, { force: true });
  // A pid file outlives a reboot or a crash, and the pid may now be another program's: signal only our server.
  if (!Number.isInteger(pid) || pid <= 1 || !isOurServer(pid, f.db)) return false;
  try {
    process.kill(-pid, 'SIGTERM');
    return true;
  } catch {
    try {
      process.kill(pid, 'SIGTERM');
      return true;
    } catch {
      return false;
    }
  }
}

/** The process is a `temporal server start-dev` on this state directory's database (where /proc tells). */
function isOurServer(pid: number, db: string): boolean {
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ENOENT' && !existsSync('/proc/self'); // no /proc: trust the file
  }
  return args.includes('start-dev') && args.includes(db);
}
