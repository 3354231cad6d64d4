// The per-host clone cache: one mirror per repository, sessions cloned with --reference to it. Real Temporal,
// the token-protected git server, real git: the mirror is made once, fetched on every open, holds no token,
// survives concurrent opens, and is removed by the cleanup policy only when unused and unreferenced.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { getWorld, type World } from './support/world.js';
import { git } from './support/helpers.js';
import { CloneCache } from '../src/git/clone-cache.js';

/** Every file under `dir`, read as text (a token written anywhere in the mirror would be found). */
function allText(dir: string): string {
  let text = '';
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) text += readFileSync(join(entry.parentPath, entry.name), 'latin1');
  }
  return text;
}

describe('clone cache', function () {
  let w: World;
  before(async () => {
    w = await getWorld();
  });

  it('opens concurrent sessions from one mirror made once, fetched on each open, without the token', async () => {
    const url = await w.git.createRepo('cached', { 'a.txt': 'a\n' });
    const opened = await Promise.all([1, 2, 3, 4].map(() => w.client.open({ repo_url: url })));
    const mirrors = new Set<string>();
    for (const o of opened) {
      assert.equal(readFileSync(join(o.workspace_path, 'a.txt'), 'utf8'), 'a\n');
      const alternates = readFileSync(join(o.workspace_path, '.git/objects/info/alternates'), 'utf8').trim();
      mirrors.add(alternates);
      assert.equal(git(o.workspace_path, 'remote', 'get-url', 'origin'), url);
      assert.ok(!readFileSync(join(o.workspace_path, '.git/config'), 'utf8').includes(w.token));
    }
    assert.equal(mirrors.size, 1, `one mirror for all: ${[...mirrors]}`);
    const mirror = [...mirrors][0]!.replace(/\/objects$/, '');
    assert.ok(mirror.startsWith(join(w.workspaceBase, '.clone-cache')), mirror);
    assert.equal(git(mirror, 'config', 'remote.origin.url'), url);
    const basic = Buffer.from(`x-access-token:${w.token}`).toString('base64');
    const text = allText(mirror);
    assert.ok(!text.includes(w.token) && !text.includes(basic), 'the token is nowhere in the mirror');
    // The workspaces borrow the objects: their own object store holds no pack of the history.
    for (const o of opened) assert.deepEqual(readdirSync(join(o.workspace_path, '.git/objects/pack')), []);

    // A commit pushed after the mirror was made reaches the next session (the mirror is fetched on open).
    const pusher = await mkdtemp(join(tmpdir(), 'cache-push-'));
    try {
      execFileSync('git', ['clone', '--quiet', w.git.bareDir('cached'), pusher]);
      execFileSync('git', ['-C', pusher, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '--allow-empty', '-m', 'later']);
      execFileSync('git', ['-C', pusher, 'push', '--quiet', 'origin', 'HEAD']);
      const head = git(pusher, 'rev-parse', 'HEAD');
      const later = await w.client.open({ repo_url: url });
      assert.equal(git(later.workspace_path, 'rev-parse', 'HEAD'), head);
      assert.equal(git(mirror, 'rev-parse', 'HEAD'), head, 'the mirror was fetched');
      opened.push(later);
    } finally {
      await rm(pusher, { recursive: true, force: true });
    }
    await Promise.all(opened.map((o) => w.client.close({ session_id: o.session_id })));
  });

  it('removes mirrors unused for the configured days unless a workspace references them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cache-policy-'));
    const base = await mkdtemp(join(tmpdir(), 'cache-ws-'));
    try {
      const cache = new CloneCache(dir);
      const authed = (cwd: string, args: string[]) => Promise.resolve(execFileSync('git', args, { cwd, encoding: 'utf8' }));
      const signal = new AbortController().signal;
      await w.git.createRepo('policy-a', { 'a.txt': 'a\n' });
      await w.git.createRepo('policy-b', { 'b.txt': 'b\n' });
      const old = await cache.mirrorFor(`file://${w.git.bareDir('policy-a')}`, authed, signal);
      const kept = await cache.mirrorFor(`file://${w.git.bareDir('policy-b')}`, authed, signal);
      execFileSync('git', ['clone', '--quiet', '--reference', kept!, `file://${w.git.bareDir('policy-b')}`, join(base, 'ws_x')]);
      const longAgo = new Date(Date.now() - 30 * 86_400_000);
      for (const m of [old!, kept!]) utimesSync(m, longAgo, longAgo);
      assert.deepEqual(await cache.removeUnused(14, base), [old]);
      assert.ok(!existsSync(old!) && existsSync(kept!));
      // Used recently: kept even when nothing references it.
      execFileSync('rm', ['-rf', join(base, 'ws_x')]);
      utimesSync(kept!, new Date(), new Date());
      assert.deepEqual(await cache.removeUnused(14, base), []);
      assert.ok(statSync(kept!).isDirectory());
    } finally {
      await Promise.all([dir, base].map((d) => rm(d, { recursive: true, force: true })));
    }
  });
});
