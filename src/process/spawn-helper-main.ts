// The spawn helper's own program (see spawn-helper.ts): a small process that starts the worker's short commands
// for it. It reads one JSON request per line on stdin and writes one JSON reply per line on stdout. When the
// worker goes (stdin closes, or SIGTERM from setpriv --pdeathsig), every command still running is killed first.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startShortCommand } from './short-command.js';
import type { HelperReply, HelperRequest } from './spawn-helper.js';

const running = new Map<number, ChildProcess>();

function run(req: HelperRequest & { command: NonNullable<HelperRequest['command']> }): void {
  const { child, outcome } = startShortCommand(req.command);
  running.set(req.id, child);
  void outcome.then((result) => {
    running.delete(req.id);
    const reply: HelperReply = { id: req.id, ...result };
    process.stdout.write(`${JSON.stringify(reply)}\n`);
  });
}

function stopAll(): never {
  for (const child of running.values()) child.kill('SIGKILL');
  process.exit(0);
}

const requests = createInterface({ input: process.stdin });
requests.on('line', (line) => {
  const req = JSON.parse(line) as HelperRequest;
  if (req.command) run({ ...req, command: req.command });
  else running.get(req.id)?.kill('SIGKILL');
});
requests.on('close', stopAll);
process.stdout.on('error', stopAll);
process.on('SIGTERM', stopAll);
