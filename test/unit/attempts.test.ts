// Best-of-N's git side (src/git/attempts.ts) on real repositories: every attempt's copy holds the session's working
// tree as it is (uncommitted changes too, ignored files not), with no way back into the session's repository; the
// copies cost no disk for history; measuring tells each attempt's changes; settling applies exactly the chosen
// one, saves all, removes the copies, and does the same when run again. No servers: git only.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCodingConfig } from '../../src/config.js';
import { CodingError } from '../../src/core/errors.js';
import { LocalWorkspace } from '../../src/git/workspace.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } }).trim();
const signal = () => AbortSignal.timeout(60_000);

describe('best-of-N attempts in copies of a workspace', function () {
  let base: string;
  let workspace: LocalWorkspace;

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'station-attempts-'));
    const configured = LocalWorkspace.fromConfig(parseCodingConfig({ workspace_base_path: base }));
    workspace = new LocalWorkspace({ ...configured.settings, saved_dir: join(base, 'saved') }, configured.credentials);
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  /** A session's workspace with a commit, then uncommitted work: an edit, a deletion, a new file, an ignored file. */
  function dirtyWorkspace(id: string) {
    const path = join(base, id);
    git(base, 'init', '-q', '--initial-branch', 'main', path);
    writeFileSync(join(path, 'a.txt'), 'one\ntwo\n');
    writeFileSync(join(path, 'gone.txt'), 'bye\n');
    writeFileSync(join(path, '.gitignore'), 'build/\n');
    git(path, 'add', '-A');
    git(path, 'commit', '-qm', 'start');
    writeFileSync(join(path, 'a.txt'), 'one\ntwo\nthree\n');
    unlinkSync(join(path, 'gone.txt'));
    writeFileSync(join(path, 'new.txt'), 'fresh\n');
    execFileSync('mkdir', ['-p', join(path, 'build')]);
    writeFileSync(join(path, 'build', 'out.js'), 'ignored\n');
    return { path, ref: { session_id: id, backend: 'claudecode' as const, workspace_path: path, managed: true } };
  }

  it('copies hold the working tree as it is, detached at the same commit with no remote; the history is hard links; prepare again keeps them', async () => {
    const { path, ref } = dirtyWorkspace('s1');
    const prepared = await workspace.attempts.prepare(ref, 'task-1', 3, signal());
    assert.equal(prepared.workspaces.length, 3);
    for (const copy of prepared.workspaces) {
      assert.equal(readFileSync(join(copy, 'a.txt'), 'utf8'), 'one\ntwo\nthree\n');
      assert.ok(!existsSync(join(copy, 'gone.txt')));
      assert.equal(readFileSync(join(copy, 'new.txt'), 'utf8'), 'fresh\n');
      assert.ok(!existsSync(join(copy, 'build')), 'ignored files are not copied');
      assert.equal(git(copy, 'rev-parse', 'HEAD'), git(path, 'rev-parse', 'HEAD'));
      assert.equal(git(copy, 'status', '--porcelain'), git(path, 'status', '--porcelain'), 'the same changes, unstaged');
      assert.equal(git(copy, 'remote'), '', 'no remote leads back into the session');
      assert.doesNotMatch(readFileSync(join(copy, '.git', 'config'), 'utf8'), /\/s1/, 'its config names no path of the session');
      const pack = git(copy, 'rev-parse', '--git-path', 'objects');
      const object = git(copy, 'rev-parse', 'HEAD:a.txt');
      assert.ok(statSync(join(copy, pack, object.slice(0, 2), object.slice(2))).nlink > 1, 'objects are hard links');
    }
    writeFileSync(join(prepared.workspaces[0]!, 'work.txt'), 'an attempt at work\n');
    assert.deepEqual(await workspace.attempts.prepare(ref, 'task-1', 3, signal()), prepared, 'prepared once');
    assert.ok(existsSync(join(prepared.workspaces[0]!, 'work.txt')), 'a retried attempt finds its copy as it left it');
  });

  it('measure tells each attempt\'s changes; settle applies exactly the chosen one on the session\'s work, saves all, removes the copies; again, the same', async () => {
    const { path, ref } = dirtyWorkspace('s2');
    const staged = git(path, 'diff', '--cached', '--name-only');
    const prepared = await workspace.attempts.prepare(ref, 'task-7', 3, signal());
    const [one, two, three] = prepared.workspaces as [string, string, string];
    writeFileSync(join(one, 'a.txt'), 'one\n');
    writeFileSync(join(two, 'b.txt'), 'b1\nb2\n');
    writeFileSync(join(two, 'blob.bin'), Buffer.from([0, 1, 2, 0, 255]));
    unlinkSync(join(two, 'new.txt'));
    const stats = await workspace.attempts.measure(prepared, signal());
    assert.deepEqual(
      stats.map(({ n, files, insertions, deletions }) => [n, files, insertions, deletions]),
      [
        [1, 1, 0, 2],
        [2, 3, 3, 1],
        [3, 0, 0, 0],
      ],
    );
    assert.equal(stats[2]!.tree, prepared.base, 'no change: the base tree');

    const settled = await workspace.attempts.settle(ref, prepared, stats[1], signal());
    assert.equal(settled.applied, 2);
    assert.equal(readFileSync(join(path, 'b.txt'), 'utf8'), 'b1\nb2\n');
    assert.deepEqual([...readFileSync(join(path, 'blob.bin'))], [0, 1, 2, 0, 255]);
    assert.ok(!existsSync(join(path, 'new.txt')));
    assert.equal(readFileSync(join(path, 'a.txt'), 'utf8'), 'one\ntwo\nthree\n', 'the session\'s own work stays; attempt 1 is not applied');
    assert.equal(git(path, 'diff', '--cached', '--name-only'), staged, 'the index is untouched');
    assert.ok(!existsSync(prepared.dir), 'the copies are removed');
    for (const n of [1, 2, 3]) assert.ok(existsSync(join(settled.saved_to, `attempt-${n}.patch`)));
    assert.match(readFileSync(join(settled.saved_to, 'attempt-1.patch'), 'utf8'), /^-two$/m);

    assert.deepEqual(await workspace.attempts.settle(ref, prepared, stats[1], signal()), settled, 'settled again: the same answer');
    assert.equal(readFileSync(join(path, 'b.txt'), 'utf8'), 'b1\nb2\n', 'applied once');
  });

  it('a workspace changed while the attempts ran is not overwritten: a conflict that says where the changes are', async () => {
    const { path, ref } = dirtyWorkspace('s3');
    const prepared = await workspace.attempts.prepare(ref, 'task-1', 2, signal());
    writeFileSync(join(prepared.workspaces[1]!, 'b.txt'), 'attempt\n');
    const stats = await workspace.attempts.measure(prepared, signal());
    writeFileSync(join(path, 'other.txt'), 'someone else\n');
    await assert.rejects(workspace.attempts.settle(ref, prepared, stats[1], signal()), (err: CodingError) => {
      assert.equal(err.kind, 'conflict');
      assert.match(err.message, /changed while the attempts ran \(other\.txt\): attempt 2's changes were not applied; they are in \//);
      return true;
    });
    assert.ok(!existsSync(join(path, 'b.txt')));
    assert.ok(!existsSync(prepared.dir), 'the copies are removed all the same: their patches are saved');
  });

  it('bytes as they are (a Latin-1 file), a shallow history, info/exclude: what the winner changed arrives exactly', async () => {
    const origin = join(base, 'origin-s4');
    git(base, 'init', '-q', '--initial-branch', 'main', origin);
    for (const n of [1, 2, 3]) {
      writeFileSync(join(origin, 'history.txt'), `${n}\n`);
      git(origin, 'add', '-A');
      git(origin, 'commit', '-qm', `c${n}`);
    }
    const path = join(base, 's4');
    git(base, 'clone', '-q', '--depth', '1', `file://${origin}`, path);
    writeFileSync(join(path, '.git', 'info', 'exclude'), 'out/\n');
    execFileSync('mkdir', ['-p', join(path, 'out')]);
    writeFileSync(join(path, 'out', 'gen.js'), 'generated\n');
    writeFileSync(join(path, 'latin.txt'), Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x0a])); // "café" in Latin-1, uncommitted
    const ref = { session_id: 's4', backend: 'claudecode' as const, workspace_path: path, managed: true };
    const prepared = await workspace.attempts.prepare(ref, 'task-1', 2, signal());
    const [one, two] = prepared.workspaces as [string, string];
    assert.equal(git(one, 'rev-parse', '--is-shallow-repository'), 'true');
    assert.ok(!existsSync(join(one, 'out')), 'excluded files are not copied');
    execFileSync('mkdir', ['-p', join(two, 'out')]);
    writeFileSync(join(two, 'out', 'gen.js'), 'the check wrote this\n'); // hidden by info/exclude: not a change
    writeFileSync(join(two, 'latin.txt'), Buffer.from([0x6e, 0x61, 0xef, 0x76, 0x65, 0x0a])); // "naïve"
    const stats = await workspace.attempts.measure(prepared, signal());
    assert.deepEqual([stats[1]!.files, stats[0]!.files], [1, 0]);
    const settled = await workspace.attempts.settle(ref, prepared, stats[1], signal());
    assert.deepEqual([...readFileSync(join(path, 'latin.txt'))], [0x6e, 0x61, 0xef, 0x76, 0x65, 0x0a]);
    assert.equal(readFileSync(join(path, 'out', 'gen.js'), 'utf8'), 'generated\n', 'the session\'s excluded file is left alone');
    assert.ok(existsSync(join(settled.saved_to, 'attempt-2.patch')));
  });

  it('a settle cut short after writing some of the files: the retry writes the rest; a stale set of copies of another size is made again', async () => {
    const { path, ref } = dirtyWorkspace('s5');
    const prepared = await workspace.attempts.prepare(ref, 'task-1', 2, signal());
    writeFileSync(join(prepared.workspaces[0]!, 'x.txt'), 'x\n');
    writeFileSync(join(prepared.workspaces[0]!, 'y.txt'), 'y\n');
    unlinkSync(join(prepared.workspaces[0]!, 'new.txt'));
    const stats = await workspace.attempts.measure(prepared, signal());
    writeFileSync(join(path, 'x.txt'), 'x\n'); // as if the first settle died after writing one file
    await workspace.attempts.settle(ref, prepared, stats[0], signal());
    assert.equal(readFileSync(join(path, 'y.txt'), 'utf8'), 'y\n');
    assert.ok(!existsSync(join(path, 'new.txt')));

    const again = await workspace.attempts.prepare(ref, 'task-2', 2, signal());
    const bigger = await workspace.attempts.prepare(ref, 'task-2', 3, signal());
    assert.equal(bigger.workspaces.length, 3, 'not the 2 copies prepared before under that name');
    assert.notEqual(again.base, undefined);
  });
});
