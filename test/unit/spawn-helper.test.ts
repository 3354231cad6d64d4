// The spawn helper that starts the worker's git commands (src/process/spawn-helper.ts): output and exit codes come
// back as from a direct child, a silent command is killed, an abort kills, and after a kill -9 of the process it
// serves, the helper and what it was running are gone. Real processes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runShortCommand } from '../../src/process/spawn-helper.js';
import { descendantsOf } from '../../src/process/proc.js';
import { ROOT } from '../support/world.js';
import { alive, waitFor } from '../support/helpers.js';

const command = (file: string, args: string[], silenceMs?: number) => ({ file, args, cwd: tmpdir(), env: { PATH: process.env.PATH ?? '' }, maxBuffer: 1 << 20, silenceMs });
/** The processes under `root` whose command line contains `text`. */
const under = (root: number, text: string) => [...descendantsOf(root).keys()].filter((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(text));

describe('spawn helper', function () {
  it('returns output and exit codes as a direct child would, and runs commands side by side', async () => {
    const ok = await runShortCommand(command('git', ['--version']), new AbortController().signal);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /^git version /);
    const failed = await runShortCommand(command('git', ['rev-parse', '--verify', 'nothing-here']), new AbortController().signal);
    assert.notEqual(failed.code, 0);
    assert.match(failed.stderr, /fatal/);
    const refused = await runShortCommand(command('git', ['commit', '-m', 'a\u0000b']), new AbortController().signal);
    assert.match(refused.error ?? '', /null bytes/, 'an argument Node refuses is an answer');
    const missing = await runShortCommand(command('no-such-binary-here', []), new AbortController().signal);
    assert.equal(missing.code, undefined);
    assert.match(missing.error ?? '', /ENOENT/);
    const many = await Promise.all(Array.from({ length: 8 }, (_, i) => runShortCommand(command('sh', ['-c', `sleep 0.2; echo ${i}`]), new AbortController().signal)));
    assert.deepEqual(
      many.map((r) => r.stdout.trim()),
      ['0', '1', '2', '3', '4', '5', '6', '7'],
    );
  });

  it('kills a command that prints nothing for silenceMs, and one whose signal aborts', async () => {
    const started = Date.now();
    const silent = await runShortCommand(command('sleep', ['30'], 300), new AbortController().signal);
    assert.equal(silent.silenced, true);
    const aborted = new AbortController();
    setTimeout(() => aborted.abort(), 200);
    const killed = await runShortCommand(command('sleep', ['30']), aborted.signal);
    assert.notEqual(killed.code, 0);
    assert.ok(Date.now() - started < 5000, `both ended early (${Date.now() - started} ms)`);
    assert.deepEqual(under(process.pid, 'sleep'), [], 'no sleep left running');
  });

  it('after a kill -9 of the process it serves, the helper and its running command are gone', async () => {
    const script = `import { runShortCommand } from ${JSON.stringify(join(ROOT, 'dist/src/process/spawn-helper.js'))};
      runShortCommand({ file: 'sleep', args: ['300'], cwd: '/', env: { PATH: process.env.PATH }, maxBuffer: 1024 }, new AbortController().signal);
      setInterval(() => {}, 1000);`;
    const served = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: 'ignore' });
    const pid = served.pid!;
    let helper: number[] = [];
    let sleeper: number[] = [];
    await waitFor('the helper running sleep', () => {
      helper = under(pid, 'spawn-helper-main');
      sleeper = under(pid, 'sleep');
      return helper.length === 1 && sleeper.length === 1;
    });
    served.kill('SIGKILL');
    await waitFor('the helper and its sleep to be gone', () => !alive(helper[0]!) && !alive(sleeper[0]!), 10_000);
  });
});
