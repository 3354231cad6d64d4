// coding_pr against a real forge: Gitea 1.27.3 on 127.0.0.1 (test/support/gitea-server.ts), git over its
// authenticated HTTP, the real claude against the fake model. A session's branch is pushed there and its pull
// request opened, updated, and asked for again through the library, the `temporal` CLI and the Python SDK: one
// pull request in the end, with a description written from the session, and the token nowhere but on its host.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultScript } from './support/fake-anthropic.js';
import { startGitea, type GiteaServer } from './support/gitea-server.js';
import { decodePayloads, waitFor } from './support/helpers.js';
import { ROOT } from './support/root.js';
import { testPython } from './support/setup.js';
import { startTrapServer } from './support/trap-server.js';
import { getWorld, GIT_TOKEN_ENV, startVariantWorker, type VariantWorker, type World } from './support/world.js';

const run = promisify(execFile);
const TOKEN_ENV = 'STATION_TEST_GITEA_TOKEN';

describe('pull requests on a real Gitea', function () {
  this.timeout(300_000);
  let w: World;
  let gitea: GiteaServer;
  let worker: VariantWorker;

  before(async function () {
    this.timeout(1_200_000); // the first run on a machine builds Gitea (about 10 minutes on 2 cores)
    w = await getWorld();
    gitea = await startGitea();
    process.env[TOKEN_ENV] = gitea.token;
    worker = await startVariantWorker(w, {
      git: { credentials: [{ host: gitea.host, token_env: TOKEN_ENV, forge: 'gitea' }] },
    });
  });

  after(async () => {
    await worker?.stop();
    await gitea?.close();
    delete process.env[TOKEN_ENV];
    w?.claude.setScript(defaultScript());
  });

  it('opens the pull request of a pushed branch, then updates it: one pull request, its body from the session, no token in it', async () => {
    const url = await gitea.createRepo('pr-library');
    w.claude.setScript(defaultScript({ file: 'greeting.txt', content: 'hello\n', command: 'true', finalText: 'Wrote the greeting.' }));
    const { client } = worker;
    const { session_id } = await client.open({ repo_url: url, title: 'Add a greeting' });
    await client.branch({ session_id, branch: 'feature/greeting', create: true });
    const code = await client.code({ session_id, instruction: 'Add a greeting file' });
    assert.equal(code.success, true, code.error);
    await client.commit({ session_id, message: 'Add a greeting' });

    // Not pushed yet: the forge has no such branch, and the error says what to do.
    await assert.rejects(client.pr({ session_id }), /coding_push first/);

    await client.push({ session_id });
    const opened = await client.pr({ session_id });
    assert.equal(opened.created, true);
    assert.equal(opened.forge, 'gitea');
    assert.deepEqual([opened.head, opened.base], ['feature/greeting', 'main']);
    assert.match(opened.url ?? '', new RegExp(`^${gitea.url}/bot/pr-library/pulls/${opened.number}$`));
    const pull = await gitea.api('GET', `/repos/bot/pr-library/pulls/${opened.number}`);
    assert.equal(pull.title, 'Add a greeting');
    assert.match(pull.body, /Add a greeting file/, 'the body names the session’s task');
    assert.match(pull.body, new RegExp(session_id));
    assert.equal(pull.head.ref, 'feature/greeting');

    // The history (so far: the caller's next input carries the token on purpose) holds the token's variable name, never its value.
    const history = await run(w.temporal.cli, ['workflow', 'show', '--workflow-id', session_id, '--output', 'json', '--address', w.temporal.address], { maxBuffer: 64 << 20 });
    assert.ok(!`${history.stdout}\n${decodePayloads(JSON.parse(history.stdout)).join('\n')}`.includes(gitea.token), 'no token in the workflow history');

    // A second call (whose body holds the token: it is cut out of what reaches the forge) for the same branch updates the same pull request, never a second one.
    const again = await client.pr({ session_id, title: 'Add a greeting (reviewed)', body: `Reviewed. The token is ${gitea.token}.` });
    assert.equal(again.created, false);
    assert.equal(again.number, opened.number);
    const open = await gitea.api('GET', '/repos/bot/pr-library/pulls?state=open');
    assert.equal(open.length, 1);
    assert.equal(open[0].title, 'Add a greeting (reviewed)');
    assert.ok(!open[0].body.includes(gitea.token), `the token was cut out of the body: ${open[0].body}`);
    assert.match(open[0].body, /The token is \[redacted\]\./);
    assert.deepEqual((await client.status(session_id)).pull_request, again);

    await client.close({ session_id });
  });

  it('the temporal CLI and the Python SDK drive pr by its documented name: the same pull request each time', async () => {
    const url = await gitea.createRepo('pr-clients');
    w.claude.setScript(defaultScript({ file: 'clients.txt', content: 'c\n', command: 'true', finalText: 'Done.' }));
    const { client } = worker;
    const { session_id } = await client.open({ repo_url: url });
    await client.branch({ session_id, branch: 'feature/clients', create: true });
    assert.equal((await client.code({ session_id, instruction: 'Write clients.txt' })).success, true);
    await client.commit({ session_id, message: 'clients' });
    await client.push({ session_id });

    const cli = await run(
      w.temporal.cli,
      ['workflow', 'update', 'execute', '--workflow-id', session_id, '--name', 'pr', '--input', JSON.stringify({ title: 'From the temporal CLI', draft: true }), '--output', 'json', '--address', w.temporal.address],
      { timeout: 120_000 },
    );
    const first = JSON.parse(cli.stdout).result;
    assert.equal(first.created, true);
    const viaCli = await gitea.api('GET', `/repos/bot/pr-clients/pulls/${first.number}`);
    assert.equal(viaCli.title, 'WIP: From the temporal CLI', 'a draft on Gitea is a WIP: title');

    const { stdout } = await run(testPython(), [join(ROOT, 'test', 'clients', 'python_update.py'), JSON.stringify({ address: w.temporal.address, session_id, update: 'pr', input: { title: 'From Python' } })], {
      timeout: 120_000,
    });
    const py = JSON.parse(stdout);
    assert.equal(py.result.created, false);
    assert.equal(py.result.number, first.number);
    assert.equal(py.status.pull_request.number, first.number);

    const bad = await run(w.temporal.cli, ['workflow', 'update', 'execute', '--workflow-id', session_id, '--name', 'pr', '--input', '{"draft": "yes"}', '--address', w.temporal.address]).then(
      () => undefined,
      (err: { stderr?: string }) => err.stderr ?? '',
    );
    assert.match(bad ?? 'accepted', /invalid coding_pr input: draft: /);
    assert.equal((await gitea.api('GET', '/repos/bot/pr-clients/pulls?state=open')).length, 1, 'still exactly one pull request');
    await client.close({ session_id });
  });

  it('the whole loop through the gate: push awaits, a rejection from the temporal CLI gets fixed, Python approves, then the pull request awaits and opens on approval', async () => {
    const url = await gitea.createRepo('pr-gated');
    w.claude.setScript(({ request, cwd, turnIndex }) => {
      const fixing = JSON.stringify(request?.messages ?? []).includes('rejected the push');
      const file = fixing ? 'fixed.txt' : 'feature.txt';
      if (turnIndex === 0) return { text: `Writing ${file}.`, tool: { name: 'Write', input: { file_path: join(cwd!, file), content: `${file}\n` } } };
      return { text: fixing ? 'Fixed as asked.' : 'Feature written.' };
    });
    const { client } = worker;
    const { session_id } = await client.open({ repo_url: url, title: 'Gated feature', require_approval: ['push', 'pr'] });
    await client.branch({ session_id, branch: 'feature/gated', create: true });
    assert.equal((await client.code({ session_id, instruction: 'Write the feature' })).success, true);
    await client.commit({ session_id, message: 'Feature' });
    assert.equal((await client.push({ session_id })).awaiting_approval, true);

    const signal = await run(w.temporal.cli, ['workflow', 'signal', '--workflow-id', session_id, '--name', 'review', '--input', JSON.stringify({ decision: 'reject', feedback: 'Add fixed.txt too', reviewer: 'cli' }), '--address', w.temporal.address]);
    assert.equal(signal.stderr.trim(), '');
    await waitFor('the fix and the push waiting again', async () => (await client.status(session_id)).awaiting_approval?.round === 2, 120_000);
    const { stdout } = await run(testPython(), [join(ROOT, 'test', 'clients', 'python_update.py'), JSON.stringify({ address: w.temporal.address, session_id, update: 'review', input: { decision: 'approve', reviewer: 'python' } })], {
      timeout: 120_000,
    });
    const approved = JSON.parse(stdout).result;
    assert.equal(approved.push.success, true);
    const branch = await gitea.api('GET', '/repos/bot/pr-gated/branches/feature%2Fgated');
    assert.equal(branch.commit.id, approved.push.commit_hash, 'the approved push reached the forge');

    const waiting = await client.pr({ session_id, title: 'Gated feature, reviewed' });
    assert.deepEqual([waiting.awaiting_approval, waiting.created, waiting.url], [true, false, undefined]);
    assert.equal((await client.status(session_id)).awaiting_approval?.operation, 'pr');
    assert.equal((await gitea.api('GET', '/repos/bot/pr-gated/pulls?state=open')).length, 0, 'nothing reached the forge before the approval');
    const decided = await client.review({ session_id, decision: 'approve', reviewer: 'lib' });
    assert.equal(decided.pr?.created, true);
    const pull = await gitea.api('GET', `/repos/bot/pr-gated/pulls/${decided.pr!.number}`);
    assert.equal(pull.title, 'Gated feature, reviewed');
    assert.match(pull.body, /Write the feature/);
    assert.match(pull.body, /rejected the push/, 'the fix task is in the record');
    const status = await client.status(session_id);
    assert.deepEqual(
      status.reviews?.map((r) => [r.operation, r.decision]),
      [
        ['push', 'reject'],
        ['push', 'approve'],
        ['pr', 'approve'],
      ],
    );
    await client.close({ session_id });
  });

  it('the token never follows a redirect of the forge API', async () => {
    const elsewhere = await startTrapServer({ kind: 'deny' });
    const redirecting = await startTrapServer({ kind: 'redirect', to: elsewhere.url });
    const variant = await startVariantWorker(w, { git: { credentials: [{ host: new URL(w.git.url).host, token_env: GIT_TOKEN_ENV, forge: 'gitea', api_url: `${redirecting.url}/api/v1` }] } });
    try {
      const url = await w.git.createRepo('org/pr-redirect');
      const { session_id } = await variant.client.open({ repo_url: url });
      await variant.client.branch({ session_id, branch: 'feature/r', create: true });
      await assert.rejects(variant.client.pr({ session_id, base: 'main' }), /with a redirect, which is never followed with a token/);
      assert.ok(redirecting.requests.length > 0, 'the configured API was asked');
      assert.ok(redirecting.requests.every((r) => r.authorization === `token ${w.token}`), 'with the token for that host');
      assert.deepEqual(elsewhere.requests, [], 'the address it redirected to got nothing');
      await variant.client.close({ session_id });
    } finally {
      await variant.stop();
      await Promise.all([redirecting.close(), elsewhere.close()]);
    }
  });

  it('a host with no forge configured is refused with where to configure it', async () => {
    const url = await w.git.createRepo('pr-no-forge');
    const { session_id } = await worker.client.open({ repo_url: url });
    await worker.client.branch({ session_id, branch: 'feature/x', create: true });
    await assert.rejects(worker.client.pr({ session_id }), (err: Error & { cause?: { type?: string } }) => {
      assert.match(err.message, /no forge is configured for the host of .*coding\.git\.credentials a forge \(github, gitlab or gitea\)/);
      return true;
    });
    await worker.client.close({ session_id });
  });
});
