// Every route by which a caller or a repository could once walk off with a worker secret (issue 11's table),
// tried with real processes: the real worker, real git, the token-protected git server, and local servers
// standing in for hosts the token must never reach (they record every Authorization header). Each refused case
// must answer with a clear message; at the end, the secrets found anywhere they must not be are counted: 0.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { getWorld, GIT_TOKEN_ENV, startVariantWorker, type VariantWorker, type World } from './support/world.js';
import { startTrapServer, type TrapServer } from './support/trap-server.js';
import { defaultScript } from './support/fake-anthropic.js';
import { processesIn, waitFor } from './support/helpers.js';

const CLOUD_KEY_ENV = 'STATION_TEST_CLOUD_KEY';
const FIXTURE_GIT = { GIT_AUTHOR_NAME: 'Fixture', GIT_AUTHOR_EMAIL: 'f@x.invalid', GIT_COMMITTER_NAME: 'Fixture', GIT_COMMITTER_EMAIL: 'f@x.invalid' };

describe('secret routes: a token goes only to the host it is configured for', function () {
  let w: World;
  let deny: TrapServer; // a host the caller chose, answering 401
  let pub: TrapServer; // a host the caller chose, serving a public copy (200)
  let redirector: TrapServer; // a configured host that redirects to `pub`
  let variant: VariantWorker; // a worker that also has a token for `redirector`
  const messages: string[] = [];
  let routes = 0;

  /** A refused case: its message must match `expected`; every message is searched for secrets at the end. */
  async function refused(what: Promise<unknown>, expected: RegExp): Promise<void> {
    routes += 1;
    const err = await what.then(
      () => assert.fail(`expected a refusal matching ${expected}`),
      (e: Error) => e,
    );
    messages.push(err.message);
    assert.match(err.message, expected);
  }

  before(async () => {
    w = await getWorld();
    process.env[CLOUD_KEY_ENV] = `cloud_${randomBytes(12).toString('hex')}`;
    [deny, pub] = await Promise.all([startTrapServer({ kind: 'deny' }), startTrapServer({ kind: 'public' })]);
    redirector = await startTrapServer({ kind: 'redirect', to: pub.url });
    await w.git.createRepo('routes');
    pub.copyRepo('routes', w.git.bareDir('routes'));
    variant = await startVariantWorker(w, { git: { credentials: [{ host: redirector.host, token_env: GIT_TOKEN_ENV }] } });
  });

  after(async () => {
    await variant?.stop();
    await Promise.all([deny, pub, redirector].map((s) => s?.close()));
  });

  it('coding_open on a host the caller chose: answering 401, no token is sent and the message names the host and the key', async () => {
    await refused(w.client.open({ repo_url: `${deny.url}routes.git` }), new RegExp(`no token is configured for host ${deny.host} .*coding\\.git\\.credentials`));
  });

  it('coding_open on a host the caller chose: answering 200, the clone is public (without credentials)', async () => {
    routes += 1;
    const opened = await w.client.open({ repo_url: `${pub.url}routes.git` });
    assert.equal(opened.repo_cloned, true);
    await w.client.close({ session_id: opened.session_id });
  });

  it("workspace_path of a repository whose origin points elsewhere: push goes there without the token", async () => {
    const dir = mkdtempSync(join(w.workspaceBase, 'elsewhere-'));
    execFileSync('git', ['clone', '--quiet', w.git.bareDir('routes'), dir]);
    execFileSync('git', ['remote', 'set-url', 'origin', `${deny.url}routes.git`], { cwd: dir });
    const { session_id } = await w.client.open({ workspace_path: dir });
    writeFileSync(join(dir, 'x.txt'), 'x\n');
    await w.client.commit({ session_id, message: 'x' });
    await refused(w.client.push({ session_id }), new RegExp(`authentication failed: no token is configured for host ${deny.host}`));
    await w.client.close({ session_id });
  });

  it('a configured host redirecting to another host: git stops at the redirect (clone)', async () => {
    await refused(variant.client.open({ repo_url: `${redirector.url}routes.git` }), /redirect, which git does not follow while it carries a token/);
    assert.ok(redirector.requests.some((r) => r.authorization), 'the configured host did get its token');
  });

  it('an origin planted as a path on a configured host that redirects: git stops at the redirect (push)', async () => {
    const { session_id, workspace_path } = await variant.client.open({ repo_url: `${w.git.url}routes.git` });
    execFileSync('git', ['remote', 'set-url', 'origin', `${redirector.url}routes.git`], { cwd: workspace_path });
    writeFileSync(join(workspace_path, 'y.txt'), 'y\n');
    await variant.client.commit({ session_id, message: 'y' });
    await refused(variant.client.push({ session_id }), /redirect, which git does not follow while it carries a token/);
    await variant.client.close({ session_id });
  });

  it('credentials.token_env naming an unrelated variable of the worker (a cloud key) is refused', async () => {
    await refused(
      w.client.open({ repo_url: `${deny.url}routes.git`, credentials: { token_env: CLOUD_KEY_ENV } }),
      new RegExp(`credentials\\.token_env: ${CLOUD_KEY_ENV} is not a configured git token variable .*coding\\.git\\.credentials`),
    );
  });

  it('push remote given as a URL, or an unknown remote name, is refused', async () => {
    const { session_id } = await w.client.open({ repo_url: `${w.git.url}routes.git` });
    await refused(w.client.push({ session_id, remote: `${deny.url}routes.git` }), /remote/);
    await refused(w.client.push({ session_id, remote: 'nope' }), /remote 'nope' does not exist in the workspace/);
    await w.client.close({ session_id });
  });

  it('a pushurl, an insteadOf or a second push URL planted in .git/config of a managed workspace never gets the token', async () => {
    const { session_id, workspace_path } = await w.client.open({ repo_url: `${w.git.url}routes.git`, cleanup_policy: 'manual' });
    const gitIn = (...args: string[]) => execFileSync('git', args, { cwd: workspace_path });
    writeFileSync(join(workspace_path, 'z.txt'), 'z\n');
    await w.client.commit({ session_id, message: 'z' });
    gitIn('remote', 'set-url', '--push', 'origin', `${deny.url}routes.git`);
    await refused(w.client.push({ session_id }), new RegExp(`no token is configured for host ${deny.host}`));
    gitIn('remote', 'set-url', '--add', '--push', 'origin', `${w.git.url}routes.git`);
    await refused(w.client.push({ session_id }), /remote 'origin' has 2 push URLs: give it exactly one/);
    gitIn('config', '--unset-all', 'remote.origin.pushurl');
    gitIn('config', `url.${deny.url}.insteadOf`, w.git.url);
    await refused(w.client.push({ session_id }), /refusing to push with the git token: the workspace's \.git\/config sets url\./);
    gitIn('config', '--remove-section', `url.${deny.url}`);
    routes += 1;
    assert.equal((await w.client.push({ session_id })).success, true, 'with the traps removed the push to the configured host works');
    await w.client.close({ session_id });
  });

  it('counts: no secret reached a host it is not configured for, nor any message', () => {
    const secrets = [w.token, process.env[CLOUD_KEY_ENV]!];
    const forms = secrets.flatMap((s) => [s, Buffer.from(`x-access-token:${s}`).toString('base64')]);
    const leakedHeaders = [...deny.requests, ...pub.requests].filter((r) => r.authorization !== undefined).length;
    const leakedMessages = messages.filter((m) => forms.some((f) => m.includes(f))).length;
    const found = leakedHeaders + leakedMessages;
    console.log(`      ${routes} routes tried, ${deny.requests.length + pub.requests.length} requests reached the foreign hosts, ${found} secrets found`);
    assert.ok(deny.requests.length > 0 && pub.requests.length > 0, 'the foreign hosts were really contacted');
    assert.equal(found, 0);
  });
});

describe('workspaces stay in their yard', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  it('workspace_path must be an existing git repository under an allowed root, never /, HOME, the state directory or the base', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'outside-'));
    const link = join(w.workspaceBase, `link-${randomBytes(3).toString('hex')}`);
    symlinkSync(outside, link);
    const plain = mkdtempSync(join(w.workspaceBase, 'plain-'));
    const cases: Array<[string, RegExp]> = [
      ['/', /workspace_path \/ is the root directory/],
      [process.env.HOME || homedir(), /is the worker's HOME|outside the allowed roots/],
      [w.stateDir, /the worker's state directory/],
      [w.workspaceBase, /is the workspace base path itself/],
      [outside, /is outside the allowed roots .*coding\.allowed_workspace_roots/],
      [link, /is outside the allowed roots/],
      [join(w.workspaceBase, 'missing'), /is not an existing directory/],
      [plain, /is not a git repository: give a repository, or set init: true/],
    ];
    for (const [path, expected] of cases) await assert.rejects(w.client.open({ workspace_path: path }), expected, path);
    assert.ok(!existsSync(join(plain, '.git')) && !existsSync(join(outside, '.git')), 'no git init happened anywhere');
    const opened = await w.client.open({ workspace_path: plain, init: true });
    assert.ok(existsSync(join(plain, '.git')), 'init: true creates the repository');
    await w.client.close({ session_id: opened.session_id });
    await assert.rejects(w.client.open({ repo_url: `${w.git.url}x.git`, init: true }), /init: only applies to workspace_path/);
  });
});

describe("the repository cannot run code in the worker's git", function () {
  it('hooks, core.fsmonitor, filter and diff drivers never run in the worker’s own git (open, branch, code, commit, checkout)', async () => {
    const w = await getWorld();
    const marks = mkdtempSync(join(tmpdir(), 'marks-'));
    const script = join(marks, 'trap.sh');
    // The worker's git runs with GIT_CONFIG_NOSYSTEM=1; the coding agent's own git (Claude Code looks at the
    // repository) does not, so a trap firing there is told apart (and is the sandbox's business, not this one).
    writeFileSync(
      script,
      `#!/bin/sh\nif [ "$GIT_CONFIG_NOSYSTEM" = 1 ]; then echo "$1" >> ${marks}/worker; else echo "$1" >> ${marks}/other; fi\ncase "$1" in filter*) cat ;; fsmonitor) exit 1 ;; textconv) cat "$2" ;; esac\nexit 0\n`,
    );
    chmodSync(script, 0o755);
    const dir = mkdtempSync(join(w.workspaceBase, 'hooked-'));
    const run = (args: string[], env: Record<string, string> = {}) => execFileSync('git', args, { cwd: dir, env: { ...process.env, ...FIXTURE_GIT, ...env }, stdio: 'pipe' });
    run(['init', '--quiet', '--initial-branch', 'main']);
    writeFileSync(join(dir, '.gitattributes'), '*.txt filter=trap diff=trap\n');
    writeFileSync(join(dir, 'a.txt'), 'a\n');
    run(['add', '--all']);
    run(['commit', '--quiet', '-m', 'seed']);
    for (const hook of ['pre-commit', 'commit-msg', 'post-commit', 'post-checkout', 'reference-transaction']) {
      writeFileSync(join(dir, '.git/hooks', hook), `#!/bin/sh\nexec ${script} ${hook}\n`);
      chmodSync(join(dir, '.git/hooks', hook), 0o755);
    }
    run(['config', 'core.fsmonitor', `${script} fsmonitor`]);
    run(['config', 'filter.trap.clean', `${script} filter-clean`]);
    run(['config', 'filter.trap.smudge', `${script} filter-smudge`]);
    run(['config', 'filter.trap.required', 'true']);
    run(['config', 'diff.trap.textconv', `${script} textconv`]);
    // The traps work: a plain git with the worker's marker variable sets them all off.
    writeFileSync(join(dir, 'probe.txt'), 'p\n');
    run(['add', 'probe.txt'], { GIT_CONFIG_NOSYSTEM: '1' });
    run(['commit', '--quiet', '-m', 'probe'], { GIT_CONFIG_NOSYSTEM: '1' });
    const fired = readFileSync(join(marks, 'worker'), 'utf8');
    for (const trap of ['pre-commit', 'commit-msg', 'fsmonitor', 'filter-clean']) assert.match(fired, new RegExp(trap), `the ${trap} trap works`);
    rmSync(join(marks, 'worker'));

    w.claude.setScript(defaultScript({ file: 'b.txt', content: 'b\n', command: 'true', finalText: 'Wrote b.txt.' }));
    try {
      const { session_id } = await w.client.open({ workspace_path: dir });
      await w.client.branch({ session_id, branch: 'feature/hooked', create: true });
      const code = await w.client.code({ session_id, instruction: 'Write b.txt' });
      assert.equal(code.success, true, code.error);
      assert.deepEqual(code.files_changed.map((f) => f.path), ['b.txt']);
      const commit = await w.client.commit({ session_id, message: 'b' });
      assert.equal(commit.files_changed, 1);
      await w.client.branch({ session_id, branch: 'main' });
      await w.client.close({ session_id });
    } finally {
      w.claude.setScript(defaultScript());
    }
    const other = existsSync(join(marks, 'other')) ? readFileSync(join(marks, 'other'), 'utf8').trim().split('\n').length : 0;
    console.log(`      traps fired in the worker's git: ${existsSync(join(marks, 'worker')) ? readFileSync(join(marks, 'worker'), 'utf8').trim().split('\n').length : 0}; in the agent's own git: ${other}`);
    assert.ok(!existsSync(join(marks, 'worker')), `a trap ran in the worker's git: ${existsSync(join(marks, 'worker')) ? readFileSync(join(marks, 'worker'), 'utf8') : ''}`);
    // The file went in as it is (no filter), on the branch.
    assert.equal(execFileSync('git', ['show', 'feature/hooked:b.txt'], { cwd: dir, encoding: 'utf8' }), 'b\n');
  });
});

describe('every git command of the worker has a timeout', function () {
  it('a git command the workspace makes hang (a FIFO as objects/info/alternates) is killed after coding.git.timeout_sec, clearly', async () => {
    const w = await getWorld();
    // A plain clone: a clone-cache workspace already has an alternates file (its mirror), which the FIFO replaces.
    const variant = await startVariantWorker(w, { git: { timeout_sec: 2, clone_cache: false }, max_attempts: 1 });
    try {
      const { session_id, workspace_path } = await variant.client.open({ repo_url: await w.git.createRepo('hang') });
      const alternates = join(workspace_path, '.git/objects/info/alternates');
      execFileSync('mkfifo', [alternates]);
      writeFileSync(join(workspace_path, 'h.txt'), 'h\n');
      const started = Date.now();
      await assert.rejects(variant.client.commit({ session_id, message: 'h' }), /stage changes: git printed nothing for too long and was stopped \(raise coding\.git\.timeout_sec\)/);
      const took = Date.now() - started;
      console.log(`      the hanging git add was stopped after ${took} ms (timeout_sec 2)`);
      assert.ok(took < 15_000, `took ${took} ms`);
      await waitFor('no git left in the workspace', () => processesIn(workspace_path).length === 0, 5_000);
      rmSync(alternates);
      assert.equal((await variant.client.commit({ session_id, message: 'h' })).files_changed, 1, 'the session is still usable');
      await variant.client.close({ session_id });
    } finally {
      await variant.stop();
    }
  });
});
