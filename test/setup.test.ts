// The tests' own set-up (test/support/setup.ts): with no Python SDK in a fresh state directory it makes the venv and
// installs the pinned temporalio there (not in the system Python), and a second run does nothing, quickly. No servers;
// the first case needs PyPI (or pip's cache).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PYTHON_SDK_VERSION, SYSTEM_PACKAGES, ensurePythonSdk, packagePlan, setup, testPython, venvDir } from './support/setup.js';

describe('the test set-up', function () {
  this.timeout(600_000);
  const state = mkdtempSync(join(tmpdir(), 'station-setup-'));
  const env = { STATION_STATE_DIR: state };
  after(() => rmSync(state, { recursive: true, force: true }));

  it('creates its own Python environment with the pinned Temporal Python SDK when it is missing, then reuses it', async () => {
    assert.ok(!existsSync(venvDir(env)));
    const lines: string[] = [];
    const first = await setup({ env, pythonOnly: true, log: (line) => lines.push(line) });
    assert.deepEqual(first.problems, []);
    assert.equal(first.installed.length, 1, first.installed.join('; '));
    assert.match(first.installed[0]!, new RegExp(`temporalio==${PYTHON_SDK_VERSION.replaceAll('.', '\\.')} \\(\\d+\\.\\d s\\)`));
    assert.ok(lines.some((line) => line.includes(`installing temporalio==${PYTHON_SDK_VERSION}`) && line.includes(venvDir(env))), lines.join('\n'));

    const python = testPython(env);
    assert.equal(python, join(state, 'tools', 'python-venv', 'bin', 'python'));
    const [prefix, version, location] = execFileSync(python, ['-c', 'import sys, importlib.metadata as m, temporalio; print(sys.prefix); print(m.version("temporalio")); print(temporalio.__file__)'])
      .toString()
      .trim()
      .split('\n');
    assert.equal(prefix, venvDir(env));
    assert.equal(version, PYTHON_SDK_VERSION);
    assert.ok(location!.startsWith(venvDir(env)), `temporalio comes from ${location}, not the venv`);

    const started = Date.now();
    const second = await setup({ env, pythonOnly: true, log: (line) => lines.push(`second: ${line}`) });
    assert.deepEqual(second, { installed: [], problems: [], python });
    assert.ok(!lines.some((line) => line.startsWith('second: ')), lines.join('\n'));
    assert.ok(Date.now() - started < 10_000, `the second run took ${Date.now() - started} ms`);
  });

  it('installs the pinned SDK again when it was removed from its environment', () => {
    const python = testPython(env);
    execFileSync(python, ['-m', 'pip', 'uninstall', '--quiet', '--yes', 'temporalio']);
    assert.match(ensurePythonSdk(env) ?? '', /^temporalio==/);
    assert.equal(ensurePythonSdk(env), undefined);
  });

  it('makes its environment again when the environment’s python no longer runs', () => {
    const python = testPython(env);
    rmSync(python);
    symlinkSync('/nonexistent/python3', python); // as when the base Python it was made from is gone
    const lines: string[] = [];
    assert.match(ensurePythonSdk(env, (line) => lines.push(line)) ?? '', /^Python environment \+ temporalio==/);
    assert.ok(lines.some((line) => line.includes('re-creating the Python environment')), lines.join('\n'));
    assert.equal(ensurePythonSdk(env), undefined);
  });
});

describe('the test set-up: missing Debian packages', () => {
  const missing = SYSTEM_PACKAGES.filter((p) => ['nats-server', 'bubblewrap', 'docker-compose'].includes(p.apt));

  it('installs them with apt-get when root on a Debian-like system, else prints one command for them all', () => {
    assert.deepEqual(packagePlan([], { root: false, debian: true, aptGet: true }), { nothing: true });
    assert.deepEqual(packagePlan(missing, { root: true, debian: true, aptGet: true }), { install: ['nats-server', 'bubblewrap', 'docker-compose'] });
    const asUser = packagePlan(missing, { root: false, debian: true, aptGet: true });
    assert.ok('print' in asUser);
    assert.match(asUser.print, /\n {4}sudo apt-get update && sudo apt-get install -y nats-server bubblewrap docker-compose$/);
    assert.match(asUser.print, /^missing: nats-server \(the opencode-nats tests\), bubblewrap/);
    const elsewhere = packagePlan(missing, { root: true, debian: false, aptGet: false });
    assert.ok('print' in elsewhere);
    assert.match(elsewhere.print, /package manager .*: nats-server bubblewrap docker-compose$/);
  });

  it('lists the cluster tier’s packages apart', () => {
    assert.deepEqual(SYSTEM_PACKAGES.filter((p) => p.cluster).map((p) => p.apt), ['postgresql']);
    for (const apt of ['git', 'openssl', 'nats-server', 'bubblewrap', 'docker-compose', 'python3', 'python3-venv', 'golang-go'])
      assert.ok(SYSTEM_PACKAGES.some((p) => p.apt === apt && !p.cluster), apt);
  });
});
