// Run by `npm test` before mocha: make sure the tools the tests drive are here, or say how to get them.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ensureTemporalCli } from '../../src/client/temporal-cli.js';

const problems: string[] = [];
try {
  const cli = ensureTemporalCli((line) => console.error(line));
  console.error(`preflight: temporal CLI ${cli}`);
} catch (err) {
  problems.push((err as Error).message);
}
for (const [bin, pkg] of [['claude', '@anthropic-ai/claude-code'], ['opencode', 'opencode-ai'], ['codex', '@openai/codex']]) {
  const path = `node_modules/.bin/${bin}`;
  try {
    if (!existsSync(path)) throw new Error('missing');
    execFileSync(path, ['--version'], { stdio: 'pipe', timeout: 30_000 });
  } catch {
    problems.push(`${bin} is not installed or does not run: run \`npm install\` (package ${pkg}; its postinstall must run)`);
  }
}
if (!['/usr/sbin/nats-server', '/usr/bin/nats-server'].some((p) => existsSync(p)) && !process.env.NATS_SERVER_PATH) {
  try {
    execFileSync('nats-server', ['--version'], { stdio: 'pipe' });
  } catch {
    problems.push('nats-server is not installed: apt-get install -y nats-server (or set NATS_SERVER_PATH)');
  }
}
try {
  execFileSync('docker-compose', ['--version'], { stdio: 'pipe' });
} catch {
  problems.push('docker-compose is not installed (test/compose-file.test.ts validates docker-compose.temporal.yml with it; no daemon needed): apt-get install -y docker-compose');
}
try {
  execFileSync('git', ['--version'], { stdio: 'pipe' });
} catch {
  problems.push('git is not installed: apt-get install -y git');
}
try {
  execFileSync('python3', ['-c', 'import temporalio'], { stdio: 'pipe' });
} catch {
  problems.push('the Temporal Python SDK is not installed (the wire-contract test drives sessions with it): python3 -m pip install temporalio==1.35.0');
}
try {
  // The sandbox tests need a working bubblewrap (own PID namespace: root, or unprivileged user namespaces).
  execFileSync('bwrap', ['--die-with-parent', '--unshare-pid', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', 'true'], { stdio: 'pipe', timeout: 10_000 });
} catch {
  problems.push('bubblewrap is not installed or cannot create namespaces here: apt-get install -y bubblewrap (see README "Sandbox")');
}
if (problems.length) {
  for (const p of problems) console.error(`preflight: ${p}`);
  process.exit(1);
}
