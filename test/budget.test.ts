// Budgets: a task that crosses the session's budget is stopped and says why; the next one is refused.
import assert from 'node:assert/strict';
import { getWorld, type World } from './support/world.js';
import { LOCAL_BACKENDS, assertCodeResult, processCommands, waitFor } from './support/helpers.js';

describe('budgets', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  for (const backend of LOCAL_BACKENDS) {
    it(`${backend.name}: a task crossing max_cost_usd is stopped, and the next task is refused`, async () => {
      const url = await w.git.createRepo(`budget-${backend.name}`);
      backend.script(w, { file: 'costly.txt', content: 'c\n', command: 'sleep 2', finalText: 'Spent.' });
      const { session_id } = await w.client.open({ repo_url: url, backend: backend.name, max_cost_usd: backend.budgetBelowOneTask });
      const result = assertCodeResult(await w.client.code({ session_id, instruction: 'Spend more than the budget' }));
      assert.equal(result.success, false, JSON.stringify(result));
      assert.match(result.error ?? '', /budget exceeded/);
      assert.ok(result.trace.cost > backend.budgetBelowOneTask, `cost ${result.trace.cost}`);
      const status = await w.client.status(session_id);
      assert.match(status.last_error ?? '', /budget exceeded/);
      await assert.rejects(w.client.code({ session_id, instruction: 'One more' }), /budget exhausted: the session spent \$\d+\.\d+ of its \$[\d.]+ \(max_cost_usd\)/);
      assert.equal((await w.client.status(session_id)).tasks_run, 1);
      await w.client.close({ session_id });
    });
  }

  // opencode-cli is left out: `opencode run --format json` (1.18.33) printed no step usage before the cancel
  // here, so there is nothing streamed to count for it. codex too: 0.169.0 reports usage only when its turn ends
  // (turn.completed; its rollout's token_count lines are written then too), and a cancelled turn never ends.
  for (const backend of LOCAL_BACKENDS.filter((b) => b.name !== 'opencode-cli' && b.name !== 'codex')) {
    it(`${backend.name}: a cancelled task's spending counts toward the session, so cancels cannot get around the budget`, async () => {
      const url = await w.git.createRepo(`budget-cancel-${backend.name}`);
      backend.script(w, { file: 'spent.txt', content: 's\n', command: 'sleep 60', finalText: 'never' });
      const { session_id, workspace_path } = await w.client.open({ repo_url: url, backend: backend.name });
      const running = w.client.code({ session_id, instruction: 'Spend, then sleep' });
      // The agent's own process runs in the workspace from the start: wait for its tool, the sleep, to be sure the
      // model's first answer (and its usage) came before the cancel.
      await waitFor('the task to sleep in the workspace', () => processCommands(workspace_path).some((p) => /sleep 60/.test(p.cmd)), 60_000);
      await new Promise((r) => setTimeout(r, 1500)); // a heartbeat carries the usage streamed so far
      await w.client.cancel(session_id);
      const result = await running;
      assert.equal(result.error, 'cancelled');
      const status = await w.client.status(session_id);
      assert.ok(status.tasks[0]!.tokens.input > 0, `the cancelled task recorded ${JSON.stringify(status.tasks[0]!.tokens)}`);
      assert.ok(status.tokens.input > 0);
      await w.client.close({ session_id });
    });
  }

  it('max_tokens (per session, like coding.max_tokens) is enforced the same way', async () => {
    const url = await w.git.createRepo('budget-tokens');
    LOCAL_BACKENDS[0]!.script(w, { file: 't.txt', content: 't\n', command: 'true', finalText: 'Tokens.' });
    const { session_id } = await w.client.open({ repo_url: url, max_tokens: 100 });
    const result = await w.client.code({ session_id, instruction: 'Use tokens' });
    assert.equal(result.success, false);
    assert.match(result.error ?? '', /budget exceeded: the task used \d+ tokens with 100 left \(max_tokens\)/);
    await assert.rejects(w.client.code({ session_id, instruction: 'again' }), /budget exhausted: .* tokens \(max_tokens\)/);
    await w.client.close({ session_id });
  });
});
