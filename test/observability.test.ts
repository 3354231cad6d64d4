// Sessions are findable with Temporal's own tools: search attributes queried with the real `temporal` CLI,
// readable activity summaries, and per-task history in the status.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { getWorld, type World } from './support/world.js';
import { waitFor } from './support/helpers.js';
import { defaultScript } from './support/fake-anthropic.js';

describe('observability', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  const listIds = (query: string): string[] => {
    const out = execFileSync(w.temporal.cli, ['workflow', 'list', '--query', query, '--output', 'json', '--address', w.temporal.address], { encoding: 'utf8' });
    const rows = out.trim() ? (JSON.parse(out) as Array<{ execution: { workflowId: string } }>) : [];
    return rows.map((r) => r.execution.workflowId);
  };

  it('temporal workflow list --query finds sessions by backend and state', async () => {
    const url = await w.git.createRepo('searchable');
    const claudeOpen = await w.client.open({ repo_url: url, backend: 'claudecode', title: 'searchable' });
    const claudeClosed = await w.client.open({ repo_url: url, backend: 'claudecode' });
    await w.client.close({ session_id: claudeClosed.session_id });
    const cliOpen = await w.client.open({ repo_url: url, backend: 'opencode-cli' });

    const query = "CodingBackend='claudecode' AND CodingState='open'";
    await waitFor('visibility to catch up', () => listIds(query).includes(claudeOpen.session_id), 20_000);
    const open = listIds(query);
    assert.ok(!open.includes(claudeClosed.session_id), 'a closed session is not listed as open');
    assert.ok(!open.includes(cliOpen.session_id), 'another backend is not listed');
    await waitFor('the closed session to be findable', () => listIds(`CodingState='closed' AND CodingRepo='${url}'`).includes(claudeClosed.session_id), 20_000);
    assert.ok(listIds(`CodingBackend='opencode-cli' AND CodingBranch='main'`).includes(cliOpen.session_id));

    await w.client.close({ session_id: claudeOpen.session_id });
    await w.client.close({ session_id: cliOpen.session_id });
  });

  it('activities carry readable summaries and the status keeps per-task history', async () => {
    const url = await w.git.createRepo('summaries');
    w.claude.setScript(defaultScript({ file: 'sum.txt', content: 's\n', command: 'true', finalText: 'Summarised.' }));
    const { session_id } = await w.client.open({ repo_url: url });
    await w.client.code({ session_id, instruction: 'Add a /health endpoint that returns ok' });
    const commit = await w.client.commit({ session_id, message: 'Add health endpoint' });
    const status = await w.client.status(session_id);
    assert.equal(status.tasks.length, 1);
    const task = status.tasks[0]!;
    assert.equal(task.instruction, 'Add a /health endpoint that returns ok');
    assert.equal(task.success, true);
    assert.equal(task.files_changed, 1);
    assert.ok(task.duration_ms > 0 && task.cost > 0 && task.tokens.input > 0);
    assert.equal(status.cost, task.cost);

    const history = execFileSync(w.temporal.cli, ['workflow', 'show', '--workflow-id', session_id, '--output', 'json', '--address', w.temporal.address], { encoding: 'utf8' });
    const summaries = summariesOf(JSON.parse(history));
    assert.ok(summaries.includes('code: Add a /health endpoint that returns ok'), `summaries: ${JSON.stringify(summaries)}`);
    assert.ok(summaries.includes('commit: Add health endpoint'), `summaries: ${JSON.stringify(summaries)}`);
    assert.ok(commit.commit_hash);
    await w.client.close({ session_id });
  });
});

/** Every `userMetadata.summary` payload in a `temporal workflow show --output json` history, decoded. */
function summariesOf(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const child of node) summariesOf(child, out);
  else if (node && typeof node === 'object') {
    for (const [key, child] of Object.entries(node)) {
      const data = (child as { data?: unknown } | null)?.data;
      if (key === 'summary' && typeof data === 'string') out.push(JSON.parse(Buffer.from(data, 'base64').toString('utf8')));
      else summariesOf(child, out);
    }
  }
  return out;
}
