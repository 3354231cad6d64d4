// The fake models' side of the best-of-N tests (best-of.test.ts, crash.test.ts): a repository where only one
// attempt can pass its checks.
import type { FakeScript } from './fake-model.js';

type ScriptMaker = (opts: { file?: string; content?: string; command?: string }) => FakeScript;

/** Attempt `winner` writes "good" into result.txt, every other attempt "bad" (the attempt is in its workspace's path). */
export function onlyOneCanPass(script: ScriptMaker, winner: number, command?: string): FakeScript {
  return (ctx) => {
    const attempt = Number(/\/attempt-(\d+)(\/|$)/.exec(ctx.cwd ?? '')?.[1]);
    return script({ file: 'result.txt', content: attempt === winner ? 'good\n' : 'bad\n', ...(command ? { command } : {}) })(ctx);
  };
}

export const RESULT_CHECKS = [
  { name: 'result is good', run: 'grep -qx good result.txt || { echo "result.txt says: $(cat result.txt)"; exit 1; }' },
  // Looks everywhere a secret could be: the environment, the worker's HOME and config, /proc of its parent.
  { name: 'snoop', run: 'env; cat ~/.config/station/config.yaml /root/.config/station/config.yaml /proc/1/environ 2>&1; ls /root /tmp 2>&1; true' },
];

