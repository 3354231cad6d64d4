// The failover checkpoint with real git: what a save captures (unpushed commits on every branch, changed,
// deleted and untracked files), that a restore into a fresh clone of the origin puts it back, and that both are
// safe to run twice. No Temporal: the store is plain git and files.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore } from '../../src/git/checkpoint.js';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@invalid', ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trimEnd();

describe('failover checkpoint (git bundle in a shared directory)', () => {
  let root: string;
  let origin: string;
  let store: CheckpointStore;

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'station-checkpoint-test-'));
    origin = join(root, 'origin.git');
    git(root, 'init', '--quiet', '--bare', '--initial-branch', 'main', origin);
    const seed = join(root, 'seed');
    git(root, 'clone', '--quiet', origin, seed);
    writeFileSync(join(seed, 'kept.txt'), 'kept\n');
    writeFileSync(join(seed, 'doomed.txt'), 'doomed\n');
    git(seed, 'add', '.');
    git(seed, 'commit', '--quiet', '-m', 'Initial');
    git(seed, 'push', '--quiet', 'origin', 'main');
    store = new CheckpointStore(join(root, 'checkpoints'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const clone = (name: string) => {
    const path = join(root, name);
    git(root, 'clone', '--quiet', origin, path);
    return path;
  };

  it('restores the branch, unpushed commits on every branch and the uncommitted changes into a fresh clone; saving and restoring twice changes nothing', async () => {
    const a = clone('a');
    git(a, 'checkout', '--quiet', '-b', 'side');
    writeFileSync(join(a, 'side.txt'), 'side\n');
    git(a, 'add', '.');
    git(a, 'commit', '--quiet', '-m', 'On the side branch');
    git(a, 'checkout', '--quiet', '-b', 'feature/work');
    writeFileSync(join(a, 'committed.txt'), 'committed\n');
    git(a, 'add', '.');
    git(a, 'commit', '--quiet', '-m', 'Unpushed');
    writeFileSync(join(a, 'kept.txt'), 'kept, changed\n');
    unlinkSync(join(a, 'doomed.txt'));
    writeFileSync(join(a, 'untracked.txt'), 'new\n');
    git(a, 'add', 'kept.txt'); // staged or not, a change is a change
    const statusBefore = git(a, 'status', '--porcelain');

    await store.save(a, 'session:1');
    const first = readFileSync(store.file('session:1'));
    await store.save(a, 'session:1');
    assert.deepEqual(readFileSync(store.file('session:1')), first, 'the same state gives the same bundle');
    assert.equal(git(a, 'status', '--porcelain'), statusBefore, 'the session’s own index and files are left as they were');

    const b = clone('b');
    assert.equal(await store.restore(b, 'session:1'), 'feature/work');
    assert.equal(await store.restore(b, 'session:1'), 'feature/work', 'a second restore is the same');
    assert.equal(git(b, 'branch', '--show-current'), 'feature/work');
    assert.equal(git(b, 'rev-parse', 'HEAD'), git(a, 'rev-parse', 'HEAD'), 'the unpushed commit');
    assert.equal(git(b, 'rev-parse', 'side'), git(a, 'rev-parse', 'side'), 'the other branch’s unpushed commit');
    assert.equal(readFileSync(join(b, 'kept.txt'), 'utf8'), 'kept, changed\n');
    assert.equal(existsSync(join(b, 'doomed.txt')), false);
    assert.equal(readFileSync(join(b, 'untracked.txt'), 'utf8'), 'new\n');
    assert.deepEqual(git(b, 'status', '--porcelain').split('\n').sort(), [' D doomed.txt', ' M kept.txt', '?? untracked.txt'], 'back as uncommitted changes');
  });

  it('a detached HEAD comes back detached; a missing checkpoint is a clear not_found naming the directory', async () => {
    const a = clone('a');
    git(a, 'checkout', '--quiet', '--detach');
    writeFileSync(join(a, 'loose.txt'), 'loose\n');
    await store.save(a, 'detached');
    const b = clone('b');
    assert.equal(await store.restore(b, 'detached'), undefined);
    assert.equal(git(b, 'branch', '--show-current'), '');
    assert.equal(readFileSync(join(b, 'loose.txt'), 'utf8'), 'loose\n');
    await assert.rejects(store.restore(clone('c'), 'never-saved'), (err: Error & { kind?: string }) => {
      assert.equal(err.kind, 'not_found');
      assert.match(err.message, new RegExp(`no checkpoint of session never-saved in coding\\.checkpoint\\.dir \\(${store.dir}\\)`));
      return true;
    });
  });
});
