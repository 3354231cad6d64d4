// The worker's short commands (every git it runs) are started by a small helper process, not by the worker.
// Why: a fork copies the page tables of the process that forks. The worker holds 300+ MB (V8, the Temporal core,
// the workflow bundle), and each git it started cost 3-9 ms of its main thread, measured: the thread that also
// runs workflow tasks, so under load every session waited. The helper is a bare Node process (~40 MB) and forks
// in about 1 ms. One helper per process, started on first use, dying with it (its stdin closes; setpriv
// --pdeathsig sends it SIGTERM even after a kill -9), and each command it starts dies with it. A helper that
// dies is replaced (the commands it was running fail as retryable); one that dies without ever answering means
// this host cannot run it, and commands are started here from then on, as before.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dyingWithWorker } from './parent-death.js';
import { startShortCommand, type ShortCommand, type ShortCommandOutcome } from './short-command.js';

/** A line to the helper: a command to start, or (without one) a kill of the command `id`. */
export interface HelperRequest {
  id: number;
  command?: ShortCommand;
}

export interface HelperReply extends ShortCommandOutcome {
  id: number;
}

const MAIN = fileURLToPath(new URL('./spawn-helper-main.js', import.meta.url));

class SpawnHelper {
  private child?: ChildProcess;
  /** A helper went away without ever answering: this host cannot run one, commands start here from now on. */
  private broken = false;
  private nextId = 1;
  private readonly waiting = new Map<number, (outcome: ShortCommandOutcome) => void>();

  /** Run `command` to its end; an abort of `signal` kills it. */
  run(command: ShortCommand, signal: AbortSignal): Promise<ShortCommandOutcome> {
    const helper = this.started();
    if (!helper) return runHere(command, signal);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const kill = () => this.send(helper, { id });
      signal.addEventListener('abort', kill, { once: true });
      this.waiting.set(id, (outcome) => {
        signal.removeEventListener('abort', kill);
        resolve(outcome);
      });
      // Waiting for a reply keeps the process alive; an idle helper does not.
      if (this.waiting.size === 1) (helper.stdout as Socket).ref();
      this.send(helper, { id, command });
    });
  }

  private send(helper: ChildProcess, request: HelperRequest): void {
    helper.stdin!.write(`${JSON.stringify(request)}\n`);
  }

  /** The helper, started on first use; undefined when it cannot be started. */
  private started(): ChildProcess | undefined {
    if (this.child || this.broken) return this.child;
    // The helper needs nothing of the worker's environment: each command brings its own.
    const env = { PATH: process.env.PATH ?? '' };
    const { file, args } = dyingWithWorker(process.execPath, [MAIN], env, 'TERM');
    let child: ChildProcess;
    try {
      child = spawn(file, args, { stdio: ['pipe', 'pipe', 'inherit'], env });
    } catch {
      return undefined;
    }
    this.child = child;
    child.unref();
    (child.stdin as unknown as Socket).unref();
    (child.stdout as Socket).unref();
    child.stdin!.on('error', () => {}); // a helper that died: handled by 'close' below
    let answered = false;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      answered = true;
      const reply = JSON.parse(line) as HelperReply;
      const done = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) (child.stdout as Socket).unref();
      done?.(reply);
    });
    const gone = (reason: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (!answered) this.broken = true;
      for (const [id, done] of this.waiting) {
        this.waiting.delete(id);
        done({ stdout: '', stderr: '', silenced: false, error: `the spawn helper ${reason}` });
      }
    };
    child.once('error', (err) => gone(`could not run: ${err.message}`));
    child.once('close', (code, signal) => gone(`exited (${signal ?? code})`));
    return child;
  }
}

/** The command started by this process itself. */
function runHere(command: ShortCommand, signal: AbortSignal): Promise<ShortCommandOutcome> {
  const { child, outcome } = startShortCommand(command);
  const kill = () => child?.kill('SIGKILL');
  signal.addEventListener('abort', kill, { once: true });
  return outcome.finally(() => signal.removeEventListener('abort', kill));
}

const helper = new SpawnHelper();

/** Run a short command (git) through this process's spawn helper. */
export function runShortCommand(command: ShortCommand, signal: AbortSignal): Promise<ShortCommandOutcome> {
  return helper.run(command, signal);
}
