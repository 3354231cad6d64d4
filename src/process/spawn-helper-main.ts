// The spawn helper's own program (see spawn-helper.ts): a small process that starts the worker's short commands
// for it. It reads one JSON request per line on stdin and writes one JSON reply per line on stdout. When the
// worker goes (stdin closes, or SIGTERM from setpriv --pdeathsig), every command still running is killed first.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startShortCommand } from './short-command.js';
import type { HelperReply, HelperRequest } from './spawn-helper.js';

const running = new Map<number, ChildProcess>();

function send(reply: HelperReply): void {
  let line: string;
  try {
    line = JSON.stringify(reply);
  } catch (err) {
    // Output too big to encode (near the 256 MB limit): the command fails, the helper lives on.
    line = JSON.stringify({ id: reply.id, stdout: '', stderr: '', silenced: false, error: `output too large: ${(err as Error).message}` });
  }
  process.stdout.write(`${line}\n`);
}

function run(id: number, command: NonNullable<HelperRequest['command']>): void {
  const { child, outcome } = startShortCommand(command);
  if (child) running.set(id, child);
  void outcome.then((result) => {
    running.delete(id);
    send({ id, ...result });
  });
}

function stopAll(): never {
  for (const child of running.values()) child.kill('SIGKILL');
  process.exit(0);
}

const requests = createInterface({ input: process.stdin });
requests.on('line', (line) => {
  let req: HelperRequest;
  try {
    req = JSON.parse(line) as HelperRequest;
  } catch {
    return; // not from the worker's writer: nothing to answer
  }
  if (req.command) run(req.id, req.command);
  else running.get(req.id)?.kill('SIGKILL');
});
requests.on('close', stopAll);
process.stdout.on('error', stopAll);
process.on('SIGTERM', stopAll);
