// The `station-coding` command as a user runs it: a subprocess, with a config file.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import { cli, writeConfig } from './support/cli.js';
import { freePort } from './support/temporal-server.js';
import { defaultScript } from './support/fake-anthropic.js';
import { CodingClient } from '../src/client/client.js';

describe('station-coding command', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  it('run: one command on the embedded default opens, branches, codes, commits, pushes and closes', async () => {
    const repo = 'cli-run';
    const url = await w.git.createRepo(repo);
    w.claude.setScript(defaultScript({ file: 'cli.txt', content: 'from the cli\n', command: 'sleep 3 && ls', finalText: 'Created cli.txt.' }));
    const { temporal: _, ...embedded } = w.rawConfig;
    const config = writeConfig({ ...embedded, temporal: { embedded_port: await freePort(), embedded_ui_port: await freePort() } });
    const env = { STATION_CONFIG: config, STATION_STATE_DIR: mkdtempSync(join(tmpdir(), 'station-state-')), TEMPORAL_ADDRESS: undefined };
    try {
      const ran = await cli(['run', '--repo', url, '--new-branch', 'feature/cli', '--push', '--tail', 'Create cli.txt'], env);
      assert.equal(ran.code, 0, `exit ${ran.code}\n${ran.stdout}\n${ran.stderr}`);
      assert.match(ran.stdout, /Task succeeded: Created cli\.txt\./);
      assert.match(ran.stdout, /added\s+cli\.txt/);
      assert.match(ran.stdout, /Commit [0-9a-f]{40}: 1 file\(s\) changed, 1 insertion/);
      assert.match(ran.stdout, /Pushed feature\/cli to origin/);
      assert.match(ran.stdout, /Cost: \$0\.\d+ +Tokens: input [1-9]/);
      assert.match(ran.stderr, /→ Write/, 'tool calls are shown live with --tail');
      assert.equal(w.git.git(repo, 'show', 'feature/cli:cli.txt'), 'from the cli\n');

      // A second command reuses the embedded server (and its SQLite state) and prints JSON.
      const again = await cli(['run', '--repo', url, '--json', 'Create cli.txt again'], env);
      assert.equal(again.code, 0, again.stderr);
      const report = JSON.parse(again.stdout);
      assert.equal(report.code.success, true);
      assert.equal(report.close.workspace_deleted, true);
      const listed = await cli(['list'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const sessions = JSON.parse(listed.stdout) as Array<{ session_id: string; state: string }>;
      assert.ok(sessions.some((s) => s.session_id === report.session.session_id && s.state === 'closed'));
    } finally {
      await cli(['server', 'stop'], env);
    }
  });

  it('tool commands print the seed JSON against the configured cluster', async () => {
    const url = await w.git.createRepo('cli-tools');
    w.claude.setScript(defaultScript({ file: 'tool.txt', content: 'tool\n', command: 'true', finalText: 'Done.' }));
    const env = { STATION_CONFIG: writeConfig(w.rawConfig), TEMPORAL_ADDRESS: w.temporal.address };
    const open = await cli(['open', '--repo', url, '--token-env', GIT_TOKEN_ENV], env);
    assert.equal(open.code, 0, open.stderr);
    const opened = JSON.parse(open.stdout);
    assert.equal(opened.repo_cloned, true);
    const id = opened.session_id as string;
    const code = JSON.parse((await cli(['code', id, 'Write tool.txt'], env)).stdout);
    assert.equal(code.success, true);
    assert.deepEqual(code.files_changed, [{ path: 'tool.txt', status: 'added' }]);
    const commit = JSON.parse((await cli(['commit', '--input', JSON.stringify({ session_id: id, message: 'Tool', add_all: true })], env)).stdout);
    assert.equal(commit.files_changed, 1);
    const status = JSON.parse((await cli(['status', id], env)).stdout);
    assert.equal(status.tasks_run, 1);
    const closed = JSON.parse((await cli(['close', id], env)).stdout);
    assert.equal(closed.workspace_deleted, true);
    const bad = await cli(['branch', id, '--create', '-x'], env);
    assert.notEqual(bad.code, 0);
  });

  it('worker: a long-lived worker process serves sessions on the configured cluster and stops cleanly', async () => {
    const url = await w.git.createRepo('cli-worker');
    const taskQueue = `worker-cmd-${Date.now()}`;
    const config = writeConfig({ ...w.rawConfig, temporal: { address: w.temporal.address, task_queue: taskQueue, worker_id: 'cli-worker-host' } });
    const worker = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: config }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    worker.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      const client = new CodingClient(w.connection, { namespace: 'default', taskQueue });
      const opened = await client.open({ repo_url: url });
      const status = await client.status(opened.session_id);
      assert.equal(status.state, 'open');
      assert.match(stderr, new RegExp(`worker serving ${taskQueue} and ${taskQueue}@cli-worker-host`));
      assert.deepEqual(await client.close({ session_id: opened.session_id }), {
        session_id: opened.session_id,
        success: true,
        reason: 'closed',
        workspace_path: opened.workspace_path,
        workspace_deleted: true,
      });
    } finally {
      worker.kill('SIGTERM');
    }
    const code = await new Promise((resolve) => worker.once('exit', resolve));
    assert.equal(code, 0, stderr);
  });

  it('doctor: reports each backend with its binary and version, and the fix for what is missing', async () => {
    const ran = await cli(['doctor', '--json'], { STATION_CONFIG: writeConfig({ ...w.rawConfig, cli: { binary_path: '/nonexistent/opencode', timeout_sec: 5 } }) });
    assert.equal(ran.code, 0, ran.stderr);
    const checks = Object.fromEntries((JSON.parse(ran.stdout) as Array<{ name: string; ok: boolean; detail: string; fix?: string }>).map((c) => [c.name, c]));
    assert.equal(checks.claudecode!.ok, true);
    assert.match(checks.claudecode!.detail, /2\.1\.197/);
    assert.equal(checks.opencode!.ok, true);
    assert.match(checks.opencode!.detail, /\(1\.18\.33\); model fake\/m/);
    assert.equal(checks['opencode-cli']!.ok, false);
    assert.match(checks['opencode-cli']!.fix ?? '', /coding\.cli\.binary_path/);
    assert.equal(checks.temporal!.ok, true);
  });

  it('config: prints the effective config with secrets masked; a bad config names the key', async () => {
    const secret = 'ghp_super_secret_value';
    const good = await cli(['config'], { STATION_CONFIG: writeConfig({ git: { token: '${CLI_TEST_TOKEN}' } }), CLI_TEST_TOKEN: secret });
    assert.equal(good.code, 0, good.stderr);
    const printed = JSON.parse(good.stdout);
    assert.equal(printed.git.token, '***');
    assert.equal(printed.claudecode.max_turns, 10, 'defaults as in the seed');
    assert.ok(!good.stdout.includes(secret));
    const bad = await cli(['config'], { STATION_CONFIG: writeConfig({ claudecode: { max_turns: 'ten', colour: 'blue' } }) });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /coding\.claudecode\.max_turns: Invalid input: expected number/);
    assert.match(bad.stderr, /coding\.claudecode\.colour: unknown field/);
    assert.ok(!bad.stderr.includes('    at '), 'no stack trace');
  });
});
