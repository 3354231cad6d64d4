// Fault injection for the crash tests, kept out of the product: a worker process started with
// NODE_OPTIONS=--import=<this file> and STATION_FAULT_KILL_AFTER=branch|commit kills itself (SIGKILL) right after
// that git operation's side effect, before its activity can complete. The restarted worker runs without it.
import { LocalWorkspace } from '../../src/git/workspace.js';

const operation = process.env.STATION_FAULT_KILL_AFTER;
if (operation === 'branch' || operation === 'commit') {
  const original = LocalWorkspace.prototype[operation] as (...args: unknown[]) => Promise<unknown>;
  (LocalWorkspace.prototype as unknown as Record<string, unknown>)[operation] = async function (this: LocalWorkspace, ...args: unknown[]) {
    const result = await original.apply(this, args);
    process.kill(process.pid, 'SIGKILL');
    return result;
  };
}
