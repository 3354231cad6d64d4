// Best-of-N with real parts: the real claude and codex against their fake models, git, the agent sandbox, driven by
// clients we did not write. On a repository where only one attempt can pass its checks, that one is chosen and
// exactly its changes are applied; every attempt's changes are saved; the checks of every attempt find none of
// the worker's secrets. (A worker killed during the attempts: crash.test.ts.)
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './support/root.js';
import { testPython } from './support/setup.js';
import { getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import { defaultScript as claudeScript } from './support/fake-anthropic.js';
import { defaultScript as codexScript } from './support/fake-responses.js';
import { copilotScript, defaultScript as openaiScript, qwenScript } from './support/fake-openai.js';
import { defaultScript as geminiScript } from './support/fake-gemini.js';
import { git } from './support/helpers.js';
import { cli, writeConfig } from './support/cli.js';
import { onlyOneCanPass, RESULT_CHECKS } from './support/best-of-scripts.js';

const run = promisify(execFile);

describe('best-of-N attempts', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });
  after(() => {
    w.claude.setScript(claudeScript());
    w.responses.setScript(codexScript());
    w.openai.setScript(openaiScript());
    w.gemini.setScript(geminiScript());
  });

  // Every other local backend runs attempts in copies too (its conversations, HOME and server per attempt).
  for (const backend of ['opencode', 'opencode-cli', 'gemini', 'qwen', 'copilot'] as const) {
    it(`best-of-2 on a ${backend} session: both attempts run in their copies, one is applied`, async () => {
      const script = { file: 'attempt.txt', content: 'attempted\n', command: 'true', finalText: 'Done.' };
      if (backend === 'gemini') w.gemini.setScript(geminiScript(script));
      else w.openai.setScript(backend === 'qwen' ? qwenScript(script) : backend === 'copilot' ? copilotScript(script) : openaiScript(script));
      const url = await w.git.createRepo(`best-of-${backend}`, { 'README.md': 'attempts\n' });
      const { session_id, workspace_path } = await w.client.open({ repo_url: url, backend });
      const result = await w.client.code({ session_id, instruction: 'Write the attempt', attempts: 2 });
      assert.equal(result.success, true, result.error);
      assert.deepEqual(result.attempts!.map((a) => [a.n, a.backend, a.success, a.files_changed]), [[1, backend, true, 1], [2, backend, true, 1]]);
      assert.ok(result.chosen === 1 || result.chosen === 2);
      assert.deepEqual(result.files_changed, [{ path: 'attempt.txt', status: 'added' }]);
      assert.equal(readFileSync(join(workspace_path, 'attempt.txt'), 'utf8'), 'attempted\n');
      assert.ok(result.attempts!.every((a) => a.tokens.input > 0), 'every attempt reported its tokens');
      await w.client.close({ session_id });
    });
  }

  it('best-of-3 from the Python SDK: only attempt 2 can pass, it is chosen and exactly its changes applied; all saved; no check sees a secret', async () => {
    const url = await w.git.createRepo('best-of-3', { 'README.md': 'best of three\n' });
    w.claude.setScript(onlyOneCanPass(claudeScript, 2));
    const { session_id, workspace_path } = await w.client.open({ repo_url: url, checks: RESULT_CHECKS, credentials: { token_env: GIT_TOKEN_ENV } });
    const { stdout } = await run(
      testPython(),
      [join(ROOT, 'test', 'clients', 'python_update.py'), JSON.stringify({ address: w.temporal.address, session_id, update: 'code', input: { instruction: 'Write the result', attempts: 3, checks: true } })],
      { timeout: 300_000 },
    );
    const { result, status } = JSON.parse(stdout);
    assert.equal(result.success, true, result.error);
    assert.equal(result.chosen, 2);
    assert.deepEqual(
      result.attempts.map((a: any) => [a.n, a.backend, a.success, a.checks, a.files_changed, a.diff_stat]),
      [
        [1, 'claudecode', false, { passed: 1, failed: 1 }, 1, { insertions: 1, deletions: 0 }],
        [2, 'claudecode', true, { passed: 2, failed: 0 }, 1, { insertions: 1, deletions: 0 }],
        [3, 'claudecode', false, { passed: 1, failed: 1 }, 1, { insertions: 1, deletions: 0 }],
      ],
    );
    assert.deepEqual(result.files_changed, [{ path: 'result.txt', status: 'added' }]);
    const spent = result.attempts.reduce((sum: number, a: any) => sum + a.cost, 0);
    assert.ok(spent > 0 && Math.abs(result.trace.cost - spent) < 1e-9, 'the task costs what its attempts cost together');
    assert.ok(Math.abs(status.cost - spent) < 1e-9, 'and so does the session');

    // Exactly the winner's changes, unstaged, as one task would leave them.
    assert.equal(readFileSync(join(workspace_path, 'result.txt'), 'utf8'), 'good\n');
    assert.equal(git(workspace_path, 'status', '--porcelain'), '?? result.txt');
    assert.deepEqual([status.tasks_run, status.tasks[0].attempts, status.tasks[0].chosen, status.running_attempts], [1, 3, 2, undefined]);

    const saved = result.attempts_saved_to as string;
    for (const [n, content] of [[1, 'bad'], [2, 'good'], [3, 'bad']] as const) assert.match(readFileSync(join(saved, `attempt-${n}.patch`), 'utf8'), new RegExp(`^\\+${content}$`, 'm'));
    assert.deepEqual(readdirSync(join(w.workspaceBase, '.attempts', `ws_${session_id}`)), [], 'the copies are removed');

    // The winner's checks ran in its copy, inside the sandbox: what the snoop printed holds no secret.
    const snoop = result.checks.find((c: any) => c.name === 'snoop').output_tail as string;
    assert.match(snoop, /PATH=/, 'the snooping check ran');
    for (const secret of [process.env[GIT_TOKEN_ENV]!, 'sk-ant-test-key', 'sk-codex-test-key']) assert.ok(!snoop.includes(secret), 'a check saw a secret');
    // Each attempt had a conversation of its own, which started from the task itself.
    const copy = new RegExp(`ws_${session_id}/task-1-[0-9a-f]+/attempt-(\\d)`);
    const conversations = w.claude.mainRequests().filter((r) => copy.test(JSON.stringify(r.body)));
    assert.equal(new Set(conversations.map((r) => copy.exec(JSON.stringify(r.body))![1])).size, 3);
    await w.client.close({ session_id });
  });

  it('attempts by two backends from the temporal CLI: Claude Code and Codex side by side, Codex\'s passing attempt chosen', async () => {
    const url = await w.git.createRepo('best-of-backends', { 'README.md': 'two agents\n' });
    w.claude.setScript(onlyOneCanPass(claudeScript, 2));
    w.responses.setScript(onlyOneCanPass(codexScript, 2));
    const { session_id, workspace_path } = await w.client.open({ repo_url: url, checks: RESULT_CHECKS.slice(0, 1), run_checks: true });
    const { stdout } = await run(w.temporal.cli, [
      'workflow', 'update', 'execute', '--address', w.temporal.address, '--workflow-id', session_id, '--name', 'code',
      '--input', JSON.stringify({ instruction: 'Write the result', backends: ['claudecode', 'codex'] }), '--output', 'json',
    ], { timeout: 300_000 });
    const result = JSON.parse(stdout).result;
    assert.equal(result.success, true, result.error);
    assert.deepEqual(result.attempts.map((a: any) => [a.n, a.backend, a.success]), [[1, 'claudecode', false], [2, 'codex', true]]);
    assert.equal(result.chosen, 2);
    assert.ok(result.attempts[1].tokens.input > 0, 'codex reported its tokens');
    assert.equal(readFileSync(join(workspace_path, 'result.txt'), 'utf8'), 'good\n');
    const status = await w.client.status(session_id);
    assert.equal(status.backend, 'claudecode', 'the session keeps its own backend');
    await w.client.close({ session_id });
  });

  it('station-coding code --attempts N --tail shows each attempt\'s progress as it runs; a backend that is not one is refused naming the flag', async () => {
    const url = await w.git.createRepo('best-of-cli', { 'README.md': 'tail\n' });
    w.claude.setScript(onlyOneCanPass(claudeScript, 1, 'sleep 1 && cat result.txt'));
    const env = { STATION_CONFIG: writeConfig(w.rawConfig), TEMPORAL_ADDRESS: w.temporal.address };
    const opened = await cli(['open', '--repo', url], env);
    assert.equal(opened.code, 0, opened.stderr);
    const id = JSON.parse(opened.stdout).session_id as string;
    const ran = await cli(['code', id, 'Write the result', '--attempts', '2', '--tail'], env);
    assert.equal(ran.code, 0, ran.stderr);
    const result = JSON.parse(ran.stdout);
    // Without checks, equal diffs (one line each): the lower cost decides, then the earlier attempt.
    const [one, two] = result.attempts as Array<{ cost: number }>;
    assert.deepEqual([result.chosen, result.attempts.length], [two!.cost < one!.cost ? 2 : 1, 2]);
    for (const n of [1, 2]) assert.match(ran.stderr, new RegExp(`attempt ${n}: .*result\\.txt`), `attempt ${n}'s tool calls are shown`);
    const refused = await cli(['code', id, 'x', '--backends', 'claudecode,nope'], env);
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /--backends: nope is not a local backend/);
    await cli(['close', id], env);
  });
});
