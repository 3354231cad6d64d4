// The command for people (issue: "The terminal for people"): at a terminal, list is a table, status a summary
// that fits one screen, the tool commands one line, watch follows a session live, and a long task is never
// silent; through a pipe (or with --json) the output is the tool's JSON as before. The commands run under a real
// pseudo-terminal (util-linux `script`) against the test cluster.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { BIN, getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import { cli, inTerminal, writeConfig } from './support/cli.js';
import { defaultScript } from './support/fake-anthropic.js';

const COLOUR = /\x1b\[\d+m/;
/** The text a person sees: no colour codes, and the status line's redraws (`\r` + erase line) dropped. */
const seen = (text: string) =>
  text
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .map((line) => line.split('\r\x1b[K').at(-1)!)
    .join('\n');

describe('the terminal for people', function () {
  let w: World;
  let env: Record<string, string | undefined>;
  before(async () => {
    w = await getWorld();
    env = { STATION_CONFIG: writeConfig(w.rawConfig), TEMPORAL_ADDRESS: w.temporal.address, NO_COLOR: undefined };
  });

  it('list, status and the tool commands read for a person at a terminal, and stay JSON through a pipe or with --json', async () => {
    const url = await w.git.createRepo('terminal-views');
    w.claude.setScript(defaultScript({ file: 'view.txt', content: 'v\n', command: 'true', finalText: 'Wrote view.txt.' }));
    const { session_id } = await w.client.open({ repo_url: url, title: 'terminal views', credentials: { token_env: GIT_TOKEN_ENV } });
    await w.client.code({ session_id, instruction: 'Write view.txt' });
    await w.client.code({ session_id, instruction: 'Write view.txt again' });

    const table = inTerminal(['list', '--limit', '5'], env, { columns: 200 });
    assert.equal(await table.exited, 0, table.output());
    const rows = seen(table.output()).trim().split('\n');
    assert.match(rows[0]!, /^SESSION +STATE +BACKEND +REPO +BRANCH +TASKS +COST +AGE/);
    assert.ok(rows.some((r) => new RegExp(`^${session_id} +open +claudecode +.*terminal-views +\\S+ +2 +\\$\\d\\.\\d{4} +\\d+s +terminal views$`).test(r)), rows.join('\n'));
    for (const row of rows) assert.ok(row.length <= 200, `fits 200 columns: ${row}`);
    assert.match(table.output(), COLOUR);

    const noColour = inTerminal(['list', '--limit', '5'], { ...env, NO_COLOR: '1' });
    assert.equal(await noColour.exited, 0);
    assert.doesNotMatch(noColour.output(), COLOUR);

    // --json at a terminal and a pipe without it: the contract's JSON, the same.
    const json = inTerminal(['list', '--limit', '5', '--json'], env);
    assert.equal(await json.exited, 0);
    const piped = await cli(['list', '--limit', '5'], env);
    assert.equal(piped.code, 0, piped.stderr);
    const ids = (text: string) => (JSON.parse(text) as Array<{ session_id: string }>).map((s) => s.session_id);
    assert.deepEqual(ids(json.output()), ids(piped.stdout));
    assert.ok(ids(piped.stdout).includes(session_id));
    const closedOnly = JSON.parse((await cli(['list', '--state', 'closed', '--backend', 'claudecode'], env)).stdout) as Array<{ session_id: string; state: string }>;
    assert.ok(closedOnly.every((s) => s.state === 'closed') && !closedOnly.some((s) => s.session_id === session_id));
    const badState = await cli(['list', '--state', 'sleeping'], env);
    assert.equal(badState.code, 2);
    assert.match(badState.stderr, /--state must be one of opening, open, awaiting_approval, closing, closed, failed/);

    const status = inTerminal(['status', session_id], env, { columns: 80, rows: 24 });
    assert.equal(await status.exited, 0, status.output());
    const summary = seen(status.output()).trim().split('\n');
    assert.ok(summary.length <= 24, `one screen:\n${summary.join('\n')}`);
    assert.match(summary[0]!, new RegExp(`^${session_id} +open$`));
    assert.ok(summary.some((l) => /^ {2}spent +2 tasks · \S+ tokens · \$\d\.\d{4}$/.test(l)), summary.join('\n'));
    assert.ok(summary.some((l) => /^ {2}1 +ok +1 +\S+ +\$\d\.\d{4} +Write view\.txt$/.test(l)), summary.join('\n'));
    assert.ok(summary.some((l) => /^ {2}2 +ok +\d +\S+ +\$\d\.\d{4} +Write view\.txt again$/.test(l)), summary.join('\n'));
    const statusJson = JSON.parse((await cli(['status', session_id], env)).stdout);
    assert.equal(statusJson.tasks_run, 2);
    assert.equal(statusJson.tasks[0].update_id !== undefined, true, 'the JSON keeps every field');

    const commit = inTerminal(['commit', session_id, 'Add view.txt'], env);
    assert.equal(await commit.exited, 0, commit.output());
    assert.match(seen(commit.output()).trim(), /^Committed [0-9a-f]{10} on \S+: 1 file changed, \+1 -0$/);
    const close = await cli(['close', session_id], env);
    assert.equal(JSON.parse(close.stdout).workspace_deleted, true);
  });

  it('watch follows a running task live (its tool calls, elapsed time, tokens so far) and ends when the session closes; Ctrl-C only stops watching', async () => {
    const url = await w.git.createRepo('terminal-watch');
    w.claude.setScript(defaultScript({ file: 'watched.txt', content: 'w\n', command: 'sleep 4 && ls', finalText: 'Watched.' }));
    const { session_id } = await w.client.open({ repo_url: url, credentials: { token_env: GIT_TOKEN_ENV } });
    const watch = inTerminal(['watch', session_id], env);
    await watch.waitFor(new RegExp(`${session_id}.* open`));
    const task = w.client.code({ session_id, instruction: 'Write watched.txt and wait' });
    await watch.waitFor(/task 1 started: Write watched\.txt and wait/);
    await watch.waitFor(/→ Bash: sleep 4 && ls/);
    // The status line, redrawn while the tool runs: elapsed time, what the task waits for, spending so far.
    await watch.waitFor(/… \d+\.\ds · waiting for a tool: Bash: sleep 4 && ls · \d+(\.\d)?k? tokens/, 15_000);
    assert.equal((await task).success, true);
    await watch.waitFor(/task 1 succeeded \(1 file changed · \d+\.\ds · \$\d\.\d{4}\)/);

    // A second watcher stopped with Ctrl-C: the session goes on.
    const other = inTerminal(['watch', session_id], env);
    await other.waitFor(new RegExp(`${session_id}.* open`));
    other.interrupt();
    assert.equal(await other.exited, 0, other.output());
    assert.match(other.output(), /Stopped watching; the session goes on\./);
    assert.equal((await w.client.status(session_id)).state, 'open');

    await w.client.close({ session_id });
    assert.equal(await watch.exited, 0, watch.output());
    assert.match(seen(watch.output()), /Session closed: 1 task, \S+ tokens, \$\d\.\d{4}/);
  });

  it('a run whose model cannot be reached shows signs of life within 10 s, each retry as it happens, and the reason when it fails', async () => {
    const url = await w.git.createRepo('terminal-unreachable');
    const taskQueue = `terminal-${Date.now()}`;
    // Nothing listens on port 9 (discard): Claude Code retries its model API, as it does for minutes by default.
    const claudecode = { ...w.rawConfig.claudecode, env: { ...w.rawConfig.claudecode.env, ANTHROPIC_BASE_URL: 'http://127.0.0.1:9', CLAUDE_CODE_MAX_RETRIES: '4' } };
    const config = writeConfig({ ...w.rawConfig, claudecode, temporal: { address: w.temporal.address, task_queue: taskQueue, worker_id: 'terminal-host' } });
    const worker = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: config }, stdio: ['ignore', 'ignore', 'pipe'] });
    try {
      const run = inTerminal(['run', '--repo', url, 'Add a health check'], { ...env, STATION_CONFIG: config, TEMPORAL_ADDRESS: undefined });
      const code = await run.exited;
      const output = run.output();
      assert.equal(code, 1, output);
      const opened = run.seenAt(/session \S+ opened/);
      const alive = run.seenAt(/… \d+\.\ds · waiting for the model/);
      assert.ok(opened !== undefined && alive !== undefined, output);
      assert.ok(alive - opened < 10_000, `signs of life ${alive - opened} ms after the task started`);
      const retry = run.seenAt(/waiting for the model \(last: the model API failed \(no answer\); Claude Code retries/);
      const failed = run.seenAt(/Task failed/);
      assert.ok(retry !== undefined && failed !== undefined && retry < failed, `a retry is shown before the end:\n${output}`);
      assert.match(seen(output), /Claude Code could not reach its model API/);
      assert.match(seen(output), /Session \S+ closed; workspace deleted/);
    } finally {
      worker.kill('SIGTERM');
    }
    assert.equal(await new Promise((resolve) => worker.once('exit', resolve)), 0);
  });
});
