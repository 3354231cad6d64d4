// Session rules that do not depend on the backend: cleanup policies, scopes, idle timeout, continue-as-new,
// bad input and git errors a user can act on. Real Temporal and the real private git server.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { getWorld, startVariantWorker, type World } from './support/world.js';
import { spawn } from 'node:child_process';
import { describeProcess, git, processesIn, waitFor } from './support/helpers.js';
import { defaultScript } from './support/fake-anthropic.js';
import { codeUpdate, branchUpdate } from '../src/workflows/definitions.js';
import { CodingClient } from '../src/client/client.js';

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n    at '), `no stack trace in: ${err.message}`);
    return true;
  });
}

describe('session rules', function () {
  let w: World;
  let url: string;
  before(async () => {
    w = await getWorld();
    url = await w.git.createRepo('rules');
  });

  describe('cleanup policies', () => {
    const cases = [
      { policy: 'on_session_end', success: false, deleted: true },
      { policy: 'on_session_end', success: true, deleted: true },
      { policy: 'on_success', success: true, deleted: true },
      { policy: 'on_success', success: false, deleted: false },
      { policy: 'manual', success: true, deleted: false },
    ] as const;
    for (const c of cases) {
      it(`${c.policy}, closed with success ${c.success}: workspace ${c.deleted ? 'deleted' : 'kept'}`, async () => {
        const opened = await w.client.open({ repo_url: url, cleanup_policy: c.policy });
        assert.ok(existsSync(opened.workspace_path));
        const closed = await w.client.close({ session_id: opened.session_id, success: c.success });
        assert.equal(closed.workspace_deleted, c.deleted);
        assert.equal(existsSync(opened.workspace_path), !c.deleted);
      });
    }

    it('never deletes a workspace given as workspace_path', async () => {
      const dir = mkdtempSync(join(w.workspaceBase, 'user-ws-'));
      writeFileSync(join(dir, 'mine.txt'), 'mine\n');
      const opened = await w.client.open({ workspace_path: dir, init: true, cleanup_policy: 'on_session_end' });
      assert.equal(opened.managed, false);
      assert.equal(opened.workspace_path, dir);
      const closed = await w.client.close({ session_id: opened.session_id });
      assert.equal(closed.workspace_deleted, false);
      assert.ok(existsSync(join(dir, 'mine.txt')));
    });
  });

  it('allowed_workspace_roots keeps workspace_path inside the given directories', async () => {
    const allowed = mkdtempSync(join(tmpdir(), 'allowed-'));
    const variant = await startVariantWorker(w, { allowed_workspace_roots: [allowed] });
    try {
      const outside = mkdtempSync(join(tmpdir(), 'outside-'));
      await rejects(variant.client.open({ workspace_path: outside, init: true }), /workspace_path .* is outside the allowed roots .*coding\.allowed_workspace_roots/);
      const inside = await variant.client.open({ workspace_path: allowed, init: true });
      assert.equal(inside.workspace_path, allowed);
      await variant.client.close({ session_id: inside.session_id });
    } finally {
      await variant.stop();
    }
  });

  it("a cancel kills what the task started in a given workspace, never the user's own processes there", async () => {
    const dir = mkdtempSync(join(w.workspaceBase, 'user-ws-'));
    const own = spawn('sleep', ['120'], { cwd: dir, stdio: 'ignore' });
    try {
      const opened = await w.client.open({ workspace_path: dir, init: true });
      w.claude.setScript(defaultScript({ file: 'x.txt', content: 'x\n', command: 'sleep 119', finalText: 'never' }));
      const running = w.client.code({ session_id: opened.session_id, instruction: 'Write then sleep' });
      await waitFor('the task to sleep in the workspace', () => processesIn(dir).some((pid) => describeProcess(pid).includes('sleep 119')), 60_000);
      await w.client.cancel(opened.session_id);
      assert.equal((await running).error, 'cancelled');
      await waitFor('the task to leave nothing behind', () => processesIn(dir).every((pid) => pid === own.pid), 10_000);
      assert.deepEqual(processesIn(dir), [own.pid], "the user's own process lives on");
      await w.client.close({ session_id: opened.session_id });
    } finally {
      own.kill('SIGKILL');
      w.claude.setScript(defaultScript());
    }
  });

  describe('scopes', () => {
    it('workflow scope: a second coding_open with the same scope_id attaches to the running session', async () => {
      const scope_id = `wf-${Date.now()}`;
      const first = await w.client.open({ repo_url: url, scope: 'workflow', scope_id });
      const second = await w.client.open({ repo_url: url, scope: 'workflow', scope_id });
      assert.equal(second.session_id, first.session_id);
      assert.equal(second.workspace_path, first.workspace_path);
      assert.equal(first.attached, false);
      assert.equal(second.attached, true);
      await rejects(w.client.open({ repo_url: `${w.git.url}other.git`, scope: 'workflow', scope_id }), /already open on/);
      await w.client.close({ session_id: first.session_id });
      const third = await w.client.open({ repo_url: url, scope: 'workflow', scope_id });
      assert.equal(third.attached, false, 'a closed scope starts a new session');
      await w.client.close({ session_id: third.session_id });
    });

    it('agent scope: an idle session is closed by its idle timeout and its workspace removed', async () => {
      const variant = await startVariantWorker(w, { idle_timeout_min: 0.05 }); // 3 seconds
      try {
        const opened = await variant.client.open({ repo_url: url });
        await waitFor('the idle session to close', async () => (await variant.client.status(opened.session_id)).state === 'closed', 30_000);
        assert.ok(!existsSync(opened.workspace_path));
        const scoped = await variant.client.open({ repo_url: url, scope: 'workflow', scope_id: `idle-${Date.now()}` });
        await new Promise((r) => setTimeout(r, 5000));
        assert.equal((await variant.client.status(scoped.session_id)).state, 'open', 'workflow scope does not idle out');
        await variant.client.close({ session_id: scoped.session_id });
      } finally {
        await variant.stop();
      }
    });
  });

  it('continues as new when history grows, without losing an in-flight update', async () => {
    const opened = await w.client.open({ repo_url: url }, { history_event_limit: 40 });
    const session_id = opened.session_id;
    const firstRun = (await w.client.handle(session_id).describe()).runId;
    const names = Array.from({ length: 10 }, (_, i) => `can/b${i}`);
    // Sent at once: several are in flight while the workflow continues as new.
    const results = await Promise.all(names.map((branch) => w.client.branch({ session_id, branch, create: true })));
    assert.deepEqual(
      results.map((r) => r.branch),
      names,
    );
    const status = await w.client.status(session_id);
    assert.ok(names.includes(status.branch!));
    // The workflow sees its history's length when a workflow task starts. Branches run as local activities, so the
    // ten can all end within a few tasks that began while the history was short; the next operation sees the
    // length and the session continues as new once it is done.
    assert.equal((await w.client.branch({ session_id, branch: names[0]!, create: false })).branch, names[0]);
    const lastRun = (await w.client.handle(session_id).describe()).runId;
    assert.notEqual(lastRun, firstRun, 'the session continued as new');
    const branches = git(opened.workspace_path, 'branch', '--list', 'can/*').split('\n').length;
    assert.equal(branches, names.length);
    await w.client.close({ session_id });
  });

  describe('bad input', () => {
    let session_id: string;
    let workspace: string;
    before(async () => {
      const opened = await w.client.open({ repo_url: url });
      session_id = opened.session_id;
      workspace = opened.workspace_path;
    });
    after(async () => {
      await w.client.close({ session_id });
    });

    it('an unknown session is named, and a closed one is called closed', async () => {
      await rejects(w.client.code({ session_id: 'coding_nope', instruction: 'x' }), /session coding_nope not found/);
      const closed = await w.client.open({ repo_url: url });
      await w.client.close({ session_id: closed.session_id });
      await rejects(w.client.code({ session_id: closed.session_id, instruction: 'x' }), new RegExp(`session ${closed.session_id} is closed`));
      await rejects(w.client.commit({ session_id: closed.session_id, message: 'x' }), /is closed/);
    });

    it('a missing namespace is named as such, not as a missing session', async () => {
      const other = new CodingClient(w.connection, { namespace: 'no-such-namespace', taskQueue: w.config.temporal.task_queue });
      await rejects(other.status('coding_x'), /namespace no-such-namespace does not exist on this Temporal cluster/);
    });

    it('session ids that differ only in characters a path cannot hold get different workspaces', async () => {
      const a = await w.client.open({ repo_url: url, session_id: `ws:${Date.now()}` });
      const b = await w.client.open({ repo_url: url, session_id: a.session_id.replace(':', '_') });
      assert.notEqual(a.workspace_path, b.workspace_path);
      await w.client.close({ session_id: b.session_id });
      assert.ok(existsSync(a.workspace_path), 'closing one did not delete the other');
      await w.client.close({ session_id: a.session_id });
    });

    it('invalid branch names are refused with the field named', async () => {
      await rejects(w.client.branch({ session_id, branch: 'bad name', create: true }), /branch: must not contain spaces/);
      await rejects(w.client.branch({ session_id, branch: '--orphan', create: true }), /branch: must not start with '-'/);
      await rejects(w.client.branch({ session_id, branch: 'a..b', create: true }), /branch: must not contain '\.\.'/);
    });

    it('a remote starting with - is refused', async () => {
      await rejects(w.client.push({ session_id, remote: '--upload-pack=evil' }), /remote: must be a git remote name/);
    });

    it('ext:: and other transports are refused before git sees them', async () => {
      await rejects(w.client.open({ repo_url: 'ext::sh -c touch% /tmp/pwned' }), /repo_url: transport syntax/);
      await rejects(w.client.open({ repo_url: '-uhelp' }), /repo_url: must not start with '-'/);
      await rejects(w.client.open({ repo_url: `http://x-access-token:${w.token}@127.0.0.1/r.git` }), /repo_url: must not carry credentials/);
    });

    it('files outside the workspace are refused, symlinks included', async () => {
      await rejects(w.client.code({ session_id, instruction: 'x', files: ['../etc/passwd'] }), /files\.0: must stay inside the workspace/);
      await rejects(w.client.code({ session_id, instruction: 'x', files: ['/etc/passwd'] }), /files\.0: must be relative/);
      symlinkSync('/etc', join(workspace, 'escape'));
      await rejects(w.client.code({ session_id, instruction: 'x', files: ['escape/passwd'] }), /files\[0\]: escape\/passwd resolves outside the workspace/);
      await rejects(w.client.code({ session_id, instruction: 'x', files: ['escape/new-file.txt'] }), /files\[0\]: escape\/new-file\.txt resolves outside/);
      rmSync(join(workspace, 'escape'));
    });

    it('the update validator rejects a bad payload sent straight to the workflow, and the session lives on', async () => {
      const handle = w.client.handle(session_id);
      await assert.rejects(handle.executeUpdate(codeUpdate, { args: [{ instruction: '' } as never] }), (err: Error) => {
        assert.ok(err instanceof WorkflowUpdateFailedError);
        assert.match((err.cause as Error).message, /instruction: must not be empty/);
        return true;
      });
      await assert.rejects(handle.executeUpdate(branchUpdate, { args: [{ branch: 'x', bogus: 1 } as never] }), (err: Error) => {
        assert.match((err.cause as Error).message, /bogus: unknown field/);
        return true;
      });
      assert.equal((await handle.describe()).status.name, 'RUNNING');
      assert.equal((await w.client.status(session_id)).state, 'open');
    });

    it('git errors are one clear line: branch exists, missing branch, nothing to commit', async () => {
      await w.client.branch({ session_id, branch: 'dup', create: true });
      await rejects(w.client.branch({ session_id, branch: 'dup', create: true }), /branch 'dup' already exists/);
      await rejects(w.client.branch({ session_id, branch: 'nowhere' }), /branch 'nowhere' does not exist: create it with create: true/);
      await rejects(w.client.commit({ session_id, message: 'empty' }), /nothing to commit/);
      assert.equal((await w.client.status(session_id)).state, 'open');
    });
  });

  describe('git remote errors', () => {
    it('a private repository without the right token fails with an authentication error, never the token', async () => {
      process.env.WRONG_GIT_TOKEN = 'not-the-token';
      // A variable the config does not name is refused before anything is sent; a configured one is sent to its host only.
      await rejects(w.client.open({ repo_url: url, credentials: { token_env: 'WRONG_GIT_TOKEN' } }), /credentials\.token_env: WRONG_GIT_TOKEN is not a configured git token variable/);
      const variant = await startVariantWorker(w, { git: { credentials: [{ host: new URL(url).host, token_env: 'WRONG_GIT_TOKEN' }, { host: new URL(url).host, token_env: 'UNSET_TOKEN_VAR' }] } });
      try {
        await rejects(variant.client.open({ repo_url: url, credentials: { token_env: 'WRONG_GIT_TOKEN' } }), /authentication failed: the token was refused/);
        await rejects(variant.client.open({ repo_url: url, credentials: { token_env: 'UNSET_TOKEN_VAR' } }), /credentials\.token_env: UNSET_TOKEN_VAR is not set/);
      } finally {
        await variant.stop();
      }
    });

    it('a missing repository is reported as not found', async () => {
      await rejects(w.client.open({ repo_url: `${w.git.url}does-not-exist.git` }), /repository not found/);
    });

    it('a rejected push says so', async () => {
      const repo = 'rejected';
      const rurl = await w.git.createRepo(repo);
      const { session_id, workspace_path } = await w.client.open({ repo_url: rurl });
      // Someone else pushes to main after our clone.
      const other = mkdtempSync(join(tmpdir(), 'other-'));
      git(other, 'clone', '--quiet', w.git.bareDir(repo), '.');
      writeFileSync(join(other, 'theirs.txt'), 'theirs\n');
      git(other, 'add', '.');
      git(other, '-c', 'user.name=o', '-c', 'user.email=o@o', 'commit', '--quiet', '-m', 'theirs');
      git(other, 'push', '--quiet', 'origin', 'main');
      writeFileSync(join(workspace_path, 'ours.txt'), 'ours\n');
      await w.client.commit({ session_id, message: 'ours' });
      await rejects(w.client.push({ session_id }), /rejected by the remote/);
      await w.client.close({ session_id });
    });
  });
});
