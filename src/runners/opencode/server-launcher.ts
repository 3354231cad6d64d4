// A managed `opencode serve` on 127.0.0.1: started on a free port (three tries, a port may be taken in
// between), in its own process group, its output drained, and stopped with its whole group.
import net from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { CodingError } from '../../core/errors.js';
import { truncate } from '../../text.js';
import { retry } from '../../retry.js';
import { sandboxExecError, type Room, type Sandbox } from '../../process/sandbox.js';
import { errorText } from './http.js';
import { dyingWithWorker } from '../../process/parent-death.js';

export interface ManagedServer {
  url: string;
  child: ResultPromise;
  exited: boolean;
  stop(): Promise<void>;
}

/** Walls around the server: one for all its sessions, so its room holds every workspace it may be sent to. */
export interface ServerWalls {
  sandbox: Sandbox;
  room: Room;
}

/** Start `opencode serve`; a missing binary fails at once, anything else is tried on three ports. */
export async function startServer(binary: string, env: Record<string, string>, cwd: string, walls?: ServerWalls): Promise<ManagedServer> {
  const binaryMissing = (error: unknown) => error instanceof CodingError && error.kind === 'binary_missing';
  try {
    return await retry(async () => launchServer(binary, await freePort(), env, cwd, walls), {
      attempts: 3,
      firstDelayMs: 0,
      isFinal: binaryMissing,
    });
  } catch (error) {
    if (binaryMissing(error)) throw error;
    throw new CodingError(`could not start 'opencode serve': ${errorText(error)}`, 'unavailable', true);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function launchServer(binary: string, port: number, env: Record<string, string>, cwd: string, walls?: ServerWalls): Promise<ManagedServer> {
  const served = { file: binary, args: ['serve', '--hostname', '127.0.0.1', '--port', String(port)], env };
  const walled = walls ? walls.sandbox.wrap(served, cwd, walls.room) : served;
  // Dies with the worker even when the worker is killed with SIGKILL (parent-death signal, where the OS allows).
  const command = dyingWithWorker(walled.file, walled.args, walled.env);
  const child = execa(command.file, command.args, {
    cwd,
    env: walled.env,
    extendEnv: false,
    detached: true, // own process group: stopping it stops its tools' children too
    reject: false,
    buffer: false,
    stdin: 'ignore',
    encoding: 'utf8',
  });
  const pid = child.pid;
  const killGroup = (signal: NodeJS.Signals) => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // gone
    }
  };
  // If the worker exits without shutdown(), do not leave the server behind.
  const onExit = () => killGroup('SIGKILL');
  process.once('exit', onExit);

  let output = '';
  const server: ManagedServer = {
    url: '',
    child,
    exited: false,
    async stop() {
      process.removeListener('exit', onExit);
      if (server.exited) return;
      killGroup('SIGTERM');
      const grace = setTimeout(() => killGroup('SIGKILL'), 3_000);
      await child.catch(() => undefined);
      clearTimeout(grace);
      killGroup('SIGKILL');
    },
  };
  void child.then(
    () => {
      server.exited = true;
      process.removeListener('exit', onExit);
    },
    () => {
      server.exited = true;
      process.removeListener('exit', onExit);
    },
  );

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`'opencode serve' did not report listening within 30 s: ${truncate(output, 1000)}`));
    }, 30_000);
    const onData = (chunk: string) => {
      output = (output + chunk).slice(-8192);
      const match = /opencode server listening on (https?:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', onData);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      output = (output + chunk).slice(-8192);
    });
    void child.then((result) => {
      clearTimeout(timer);
      const spawnError =
        result.failed && result.exitCode === undefined && !result.signal ? (result.cause as NodeJS.ErrnoException) : walls ? sandboxExecError(output) : undefined;
      if (spawnError) {
        reject(
          new CodingError(
            `cannot start the OpenCode binary '${binary}' (${spawnError.code ?? spawnError.message}): install opencode-ai or set the binary path`,
            'binary_missing',
          ),
        );
      } else {
        reject(new Error(`'opencode serve' exited (${result.exitCode ?? result.signal}) before listening: ${truncate(output, 1000)}`));
      }
    });
  }).catch(async (error) => {
    await server.stop();
    throw error;
  });
  server.url = url.replace(/\/+$/, '');
  // Keep draining its output so the pipes never fill up.
  child.stdout?.resume();
  child.stderr?.resume();
  return server;
}
