// coding_diff's git side (src/git/diff.ts) on real repositories: from where the session started, or from a base,
// to the working tree (new files too) or HEAD; counts per file, binary files, renames; a cut patch says so; a
// bad base names the field. No servers: git only.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCodingConfig } from '../../src/config.js';
import { DiffInput } from '../../src/contract.js';
import { CodingError } from '../../src/core/errors.js';
import { EMPTY_TREE, cutPatch } from '../../src/git/diff.js';
import { LocalWorkspace } from '../../src/git/workspace.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@x', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@x' } }).trim();
const request = (input: Record<string, unknown> = {}) => DiffInput.parse(input);

describe('coding_diff in a workspace', function () {
  let base: string;
  let workspace: LocalWorkspace;

  before(() => {
    base = mkdtempSync(join(tmpdir(), 'station-diff-'));
    workspace = LocalWorkspace.fromConfig(parseCodingConfig({ workspace_base_path: base }));
  });
  after(() => rmSync(base, { recursive: true, force: true }));

  /** A workspace of session `id` opened on a repository with two files committed. */
  async function opened(id: string): Promise<{ path: string; ref: { session_id: string; workspace_path: string; managed: boolean } }> {
    const path = join(base, id);
    git(base, 'init', '-q', '--initial-branch', 'main', path);
    writeFileSync(join(path, 'a.txt'), 'one\ntwo\nthree\n');
    writeFileSync(join(path, 'gone.txt'), 'bye\n');
    git(path, 'add', '-A');
    git(path, 'commit', '-qm', 'start');
    await workspace.open({ session_id: id, workspace_path: path }, AbortSignal.timeout(30_000));
    return { path, ref: { session_id: id, workspace_path: path, managed: false } };
  }

  it('from where the session opened to the working tree: edits, new and deleted files, binary files, with counts', async () => {
    const { path, ref } = await opened('s1');
    const start = git(path, 'rev-parse', 'HEAD');
    writeFileSync(join(path, 'a.txt'), 'one\n2\nthree\nfour\n');
    git(path, 'commit', '-qam', 'edit a');
    writeFileSync(join(path, 'new.txt'), 'fresh\n'); // never added: still in the diff
    writeFileSync(join(path, 'blob.bin'), Buffer.from([0, 1, 2, 0, 255]));
    unlinkSync(join(path, 'gone.txt'));
    const diff = await workspace.diff(ref, request(), AbortSignal.timeout(30_000));
    assert.equal(diff.base, start);
    assert.equal(diff.head, git(path, 'rev-parse', 'HEAD'));
    assert.equal(diff.uncommitted, true);
    const byPath = Object.fromEntries(diff.files.map((f) => [f.path, f]));
    assert.deepEqual(byPath['a.txt'], { path: 'a.txt', status: 'modified', insertions: 2, deletions: 1 });
    assert.deepEqual(byPath['new.txt'], { path: 'new.txt', status: 'added', insertions: 1, deletions: 0 });
    assert.deepEqual(byPath['gone.txt'], { path: 'gone.txt', status: 'deleted', insertions: 0, deletions: 1 });
    assert.deepEqual(byPath['blob.bin'], { path: 'blob.bin', status: 'added', insertions: 0, deletions: 0, binary: true });
    assert.deepEqual([diff.files_changed, diff.insertions, diff.deletions], [4, 3, 2]);
    assert.match(diff.patch, /^diff --git a\/a\.txt b\/a\.txt$/m);
    assert.match(diff.patch, /^\+fresh$/m);
    assert.equal(diff.truncated, false);
    assert.equal(diff.patch_bytes, Buffer.byteLength(diff.patch));
    assert.equal(git(path, 'status', '--porcelain', '--', 'new.txt'), '?? new.txt', 'the session’s index is untouched');

    const committed = await workspace.diff(ref, request({ uncommitted: false }), AbortSignal.timeout(30_000));
    assert.deepEqual(committed.files.map((f) => f.path), ['a.txt']);
  });

  it('from where a base and HEAD meet (base...HEAD), and a base that is not there names the field', async () => {
    const { path, ref } = await opened('s2');
    git(path, 'checkout', '-qb', 'feature');
    writeFileSync(join(path, 'feature.txt'), 'f\n');
    git(path, 'add', '-A');
    git(path, 'commit', '-qm', 'feature');
    const fork = git(path, 'rev-parse', 'main');
    git(path, 'checkout', '-q', 'main');
    writeFileSync(join(path, 'main-only.txt'), 'm\n');
    git(path, 'add', '-A');
    git(path, 'commit', '-qm', 'main moves on');
    git(path, 'checkout', '-q', 'feature');
    const diff = await workspace.diff(ref, request({ base: 'main', uncommitted: false }), AbortSignal.timeout(30_000));
    assert.equal(diff.base, fork, 'the fork point, not main’s tip');
    assert.deepEqual(diff.files.map((f) => f.path), ['feature.txt']);
    await assert.rejects(workspace.diff(ref, request({ base: 'no-such-branch' }), AbortSignal.timeout(30_000)), (err: unknown) => {
      assert.ok(err instanceof CodingError && err.kind === 'invalid_input', String(err));
      assert.match(err.message, /^base: no-such-branch is not a branch, tag or commit in the workspace/);
      return true;
    });
    assert.equal(DiffInput.safeParse({ base: '--output=/etc/passwd' }).success, false, 'an option is refused by the contract');
  });

  it('a repository with no commit when the session opened starts from the empty tree; a reopened session keeps its start', async () => {
    const path = join(base, 'empty');
    git(base, 'init', '-q', '--initial-branch', 'main', path);
    const ref = { session_id: 's3', workspace_path: path, managed: false };
    await workspace.open({ session_id: 's3', workspace_path: path }, AbortSignal.timeout(30_000));
    writeFileSync(join(path, 'first.txt'), '1\n');
    const diff = await workspace.diff(ref, request(), AbortSignal.timeout(30_000));
    assert.equal(diff.base, EMPTY_TREE);
    assert.equal(diff.head, undefined);
    assert.deepEqual(diff.files.map((f) => f.path), ['first.txt']);

    const { path: p2, ref: r2 } = await opened('s4');
    const start = git(p2, 'rev-parse', 'HEAD');
    writeFileSync(join(p2, 'a.txt'), 'changed\n');
    git(p2, 'commit', '-qam', 'later');
    await workspace.open({ session_id: 's4', workspace_path: p2 }, AbortSignal.timeout(30_000)); // a retried open
    assert.equal((await workspace.diff(r2, request(), AbortSignal.timeout(30_000))).base, start);
  });

  it('a patch over max_bytes is cut at a line end and says how much was left out', () => {
    const patch = Array.from({ length: 100 }, (_, i) => `+line ${i} ${'é'.repeat(20)}`).join('\n') + '\n';
    const cut = cutPatch(patch, 1000);
    assert.equal(cut.truncated, true);
    const lines = cut.text.split('\n');
    assert.match(lines.at(-2)!, /^\[patch cut at \d+ of \d+ bytes: \d+ bytes left out \(max_bytes\)\]$/);
    assert.ok(lines.slice(0, -2).every((l) => /^\+line \d+ é{20}$/.test(l)), 'only whole lines are kept');
    assert.ok(Buffer.byteLength(cut.text) < 1100);
    assert.deepEqual(cutPatch('small\n', 1000), { text: 'small\n', truncated: false });
  });
});
