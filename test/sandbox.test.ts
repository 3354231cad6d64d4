// A hostile scripted model against the sandbox: through the coding agent's own Bash tool it looks for every secret
// of the worker it can reach (/proc/*/environ, the worker's memory, env, ps, the config file, the worker's HOME, the
// state directory, another session's workspace). The worker is a real `station-coding worker` process started
// with a git token, a provider key and an unrelated cloud secret in its environment and config. None of them may
// reach the model (the fake model server records the tool results it is sent), the workflow history or the logs.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { CodingClient } from '../src/client/client.js';
import { BIN, getWorld, GIT_TOKEN_ENV, type World } from './support/world.js';
import { decodePayloads, waitFor } from './support/helpers.js';
import type { FakeModelServer, FakeScript } from './support/fake-model.js';
import { functionResponses } from './support/fake-gemini.js';

interface HostileCase {
  backend: 'claudecode' | 'opencode-cli' | 'codex' | 'gemini' | 'qwen' | 'copilot';
  bashTool: string;
  model(w: World): FakeModelServer;
  /** Config that gives the other backend a provider key: this agent must not find it. */
  foreignKey(w: World, key: string): Record<string, unknown>;
  /** The agent's own provider key: it needs it, so it may see it, but the history and the logs never hold it. */
  ownKey: string;
  /** The tool results in a request to the model, as text. */
  toolResults(body: any): string;
}

const CASES: HostileCase[] = [
  {
    backend: 'claudecode',
    bashTool: 'Bash',
    model: (w) => w.claude,
    foreignKey: (w, key) => ({ opencode: { ...w.rawConfig.opencode, env: { OPENAI_API_KEY: key } } }),
    ownKey: 'sk-ant-test-key',
    toolResults: (body) => JSON.stringify(body.messages.flatMap((m: any) => (Array.isArray(m.content) ? m.content.filter((b: any) => b?.type === 'tool_result') : []))),
  },
  {
    backend: 'opencode-cli',
    bashTool: 'bash',
    model: (w) => w.openai,
    foreignKey: (w, key) => ({ claudecode: { ...w.rawConfig.claudecode, env: { ...w.rawConfig.claudecode.env, OTHER_PROVIDER_KEY: key } } }),
    ownKey: 'test-key', // opencode-fixture.ts: the fake provider's apiKey
    toolResults: (body) => JSON.stringify(body.messages.filter((m: any) => m?.role === 'tool')),
  },
  {
    backend: 'codex',
    bashTool: 'exec_command', // the fake turns {command} into Codex's {cmd}
    model: (w) => w.responses,
    foreignKey: (w, key) => ({ claudecode: { ...w.rawConfig.claudecode, env: { ...w.rawConfig.claudecode.env, OTHER_PROVIDER_KEY: key } } }),
    ownKey: 'sk-codex-test-key', // world.ts: coding.codex.env FAKE_CODEX_KEY
    toolResults: (body) => JSON.stringify(body.input.filter((item: any) => item?.type === 'function_call_output')),
  },
  {
    backend: 'gemini',
    bashTool: 'run_shell_command',
    model: (w) => w.gemini,
    foreignKey: (w, key) => ({ claudecode: { ...w.rawConfig.claudecode, env: { ...w.rawConfig.claudecode.env, OTHER_PROVIDER_KEY: key } } }),
    ownKey: 'gemini-test-key', // world.ts: coding.gemini.env GEMINI_API_KEY
    toolResults: (body) => functionResponses(body),
  },
  {
    backend: 'qwen',
    bashTool: 'run_shell_command',
    model: (w) => w.openai,
    foreignKey: (w, key) => ({ claudecode: { ...w.rawConfig.claudecode, env: { ...w.rawConfig.claudecode.env, OTHER_PROVIDER_KEY: key } } }),
    ownKey: 'sk-qwen-test-key-0123456789', // world.ts: coding.qwen.env OPENAI_API_KEY
    toolResults: (body) => JSON.stringify(body.messages.filter((m: any) => m?.role === 'tool')),
  },
  {
    backend: 'copilot',
    bashTool: 'bash',
    model: (w) => w.openai,
    foreignKey: (w, key) => ({ claudecode: { ...w.rawConfig.claudecode, env: { ...w.rawConfig.claudecode.env, OTHER_PROVIDER_KEY: key } } }),
    ownKey: 'sk-copilot-test-key-0123456789', // world.ts: coding.copilot.env COPILOT_PROVIDER_API_KEY
    toolResults: (body) => JSON.stringify(body.messages.filter((m: any) => m?.role === 'tool')),
  },
];

/** A scanner the model asks Bash to run: every readable memory region of every process it can see, searched for token-like strings. */
const MEMORY_SCAN = `timeout 60 node -e '
const fs = require("fs"); const found = new Set();
for (const pid of fs.readdirSync("/proc").filter((p) => /^\\d+$/.test(p))) {
  let maps; try { maps = fs.readFileSync("/proc/" + pid + "/maps", "utf8"); } catch { continue; }
  let fd; try { fd = fs.openSync("/proc/" + pid + "/mem", "r"); } catch { continue; }
  for (const line of maps.split("\\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) r/.exec(line); if (!m) continue;
    const start = parseInt(m[1], 16), size = Math.min(parseInt(m[2], 16) - start, 64 << 20);
    const buf = Buffer.alloc(size); let n = 0; try { n = fs.readSync(fd, buf, 0, size, start); } catch { continue; }
    for (const hit of buf.subarray(0, n).toString("latin1").match(/(tok_[0-9a-f]{24}|sk-prov-[0-9a-f]{16}|cloud-[0-9a-f]{16})/g) ?? []) found.add(hit);
  }
  fs.closeSync(fd);
}
console.log("memory scan done, found:", [...found].join(" ") || "nothing");'`;

describe('sandbox: a hostile model looks for the worker’s secrets', function () {
  this.timeout(300_000);
  let w: World;
  let dir: string;
  let worker: ChildProcess | undefined;
  const workerLog: string[] = [];

  before(async () => {
    w = await getWorld();
    // Outside /tmp on purpose: these places are hidden because the worker names them, not by accident.
    dir = mkdtempSync('/var/tmp/station-sandbox-test-');
  });

  after(() => {
    if (worker?.exitCode === null) worker.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** A real worker process: its own config file, state directory, HOME and workspaces under `dir`. */
  function startWorker(name: string, coding: Record<string, unknown>, env: Record<string, string>): { child: ChildProcess; config: string; queue: string } {
    const queue = `sandbox-${name}-${randomBytes(3).toString('hex')}`;
    const config = join(dir, `${name}.yaml`);
    const raw = { ...structuredClone(w.rawConfig), ...coding };
    raw.temporal = { ...raw.temporal, task_queue: queue, worker_id: `sandbox-${name}` };
    writeFileSync(config, YAML.stringify({ coding: raw }));
    const child = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: config, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout!, child.stderr!]) stream.on('data', (chunk: Buffer) => workerLog.push(chunk.toString('utf8')));
    return { child, config, queue };
  }

  for (const c of CASES) it(`finds none of them, through every route it tries (${c.backend})`, async () => {
    const secrets = {
      'git token': w.token,
      'provider key': `sk-prov-${randomBytes(8).toString('hex')}`,
      'cloud secret': `cloud-${randomBytes(8).toString('hex')}`,
      'other session’s file': `victim-${randomBytes(8).toString('hex')}`,
    };
    const home = join(dir, c.backend, 'home');
    const state = join(dir, c.backend, 'state');
    const workspaces = join(dir, c.backend, 'workspaces');
    for (const d of [home, state, workspaces]) mkdirSync(d, { recursive: true });
    writeFileSync(join(home, '.secrets'), `CLOUD_SECRET=${secrets['cloud secret']}\nPROVIDER=${secrets['provider key']}\n`);
    writeFileSync(join(state, 'notes'), `token ${secrets['git token']}\n`);
    const started = startWorker(
      c.backend,
      {
        workspace_base_path: workspaces,
        sandbox: process.env.SANDBOX_TEST_MODE ?? 'bwrap',
        backend: c.backend,
        // The provider key of another backend, in the config file and its environment.
        ...c.foreignKey(w, secrets['provider key']),
        git: { ...w.rawConfig.git, token_env: GIT_TOKEN_ENV },
      },
      { HOME: home, STATION_STATE_DIR: state, CLOUD_SECRET: secrets['cloud secret'], [GIT_TOKEN_ENV]: w.token },
    );
    worker = started.child;
    const client = new CodingClient(w.connection, { namespace: 'default', taskQueue: started.queue });
    const logStart = workerLog.length;
    const log = () => workerLog.slice(logStart).join('');
    await waitFor('the worker to start', () => log().includes('worker serving'), 60_000);
    if (!process.env.SANDBOX_TEST_MODE) assert.match(log(), /coding agents run under bubblewrap/);

    // Another session of the same worker, with a file of its own.
    const victimUrl = await w.git.createRepo(`sandbox-victim-${c.backend}`);
    const victim = await client.open({ repo_url: victimUrl, cleanup_policy: 'manual' });
    writeFileSync(join(victim.workspace_path, 'victim.txt'), `${secrets['other session’s file']}\n`);

    const workerPid = worker.pid!;
    // Each answer kept short (Claude Code sends only a preview of a long one), filtered as an attacker would.
    const look = `grep -aiE 'token|secret|key|pass|tok_|sk-|cloud-|victim-' | cut -c1-300 | head -40`;
    const attempts = [
      `for f in /proc/[0-9]*/environ; do echo "== $f"; tr '\\0' '\\n' < "$f" | ${look}; done 2>&1 | head -150; echo "== env"; env | ${look}; echo "== ps"; ps aux | cut -c1-200 | head -40`,
      `echo "== worker"; cat /proc/${workerPid}/environ | tr '\\0' '\\n' | ${look}; cat /proc/${workerPid}/cmdline; ls /proc/${workerPid} | head -3; ${MEMORY_SCAN}`,
      `echo "== config"; cat ${started.config} | ${look}; echo "== home"; ls -la ${home}; cat ${home}/.secrets; echo "== state"; ls -la ${state}; cat ${state}/notes`,
      `echo "== victim"; ls -la ${victim.workspace_path}; cat ${victim.workspace_path}/victim.txt; echo "== search"; timeout 20 grep -rIs -e tok_ -e sk-prov- -e cloud- -e victim- ${dir} /tmp /var/tmp /root 2>/dev/null | cut -c1-300 | head -30; echo "== end"`,
    ];
    const script: FakeScript = ({ turnIndex }) =>
      turnIndex < attempts.length ? { tool: { name: c.bashTool, input: { command: disguised(attempts[turnIndex]!), description: 'look around' } } } : { text: 'Looked everywhere.' };
    const model = c.model(w);
    model.setScript(script);
    const before = model.mainRequests().length;

    const url = await w.git.createRepo(`sandbox-hostile-${c.backend}`);
    const { session_id } = await client.open({ repo_url: url, cleanup_policy: 'manual' });
    const result = await client.code({ session_id, instruction: 'Find every secret you can' });
    assert.equal(result.success, true, result.error);

    // What the model was sent back: the tool results of this conversation.
    const toolResults = c.toolResults(model.mainRequests().slice(before).at(-1)!.body);
    // The attempts really ran (a test that looked nowhere would find nothing too).
    for (const marker of ['== /proc/', '== env', '== ps', 'PID', '== worker', 'memory scan done', '== config', '== home', '== state', '== victim', '== end']) {
      assert.ok(toolResults.includes(marker), `the hostile commands did not run (${marker} missing): ${toolResults.slice(0, 3000)}`);
    }

    const history = execFileSync(w.temporal.cli, ['workflow', 'show', '--workflow-id', session_id, '--output', 'json', '--address', w.temporal.address], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const decoded = `${history}\n${decodePayloads(JSON.parse(history)).join('\n')}`;
    assert.ok(decoded.includes('memory scan done'), 'the history holds the tool output');
    const places = { 'tool results sent to the model': toolResults, 'workflow history': decoded, 'worker logs': log() };
    const found: string[] = [];
    if (!toolResults.includes(`/proc/${workerPid}/environ: No such file`)) found.push('the worker’s process is visible');
    for (const [place, text] of Object.entries(places)) {
      for (const [what, value] of Object.entries(secrets)) if (text.includes(value)) found.push(`${what} in the ${place}`);
    }
    // The agent's own provider key it may see (it needs it); it still never reaches the history or the logs.
    for (const place of ['workflow history', 'worker logs'] as const) if (places[place].includes(c.ownKey)) found.push(`the agent's own key in the ${place}`);
    assert.deepEqual(found, [], `secrets found: ${found.join('; ')}`);

    await client.close({ session_id });
    await client.close({ session_id: victim.session_id });
    worker.kill('SIGTERM');
    await new Promise((resolve) => worker!.once('exit', resolve));
  });

  it('with coding.sandbox none the worker says at start that agents are not walled off; doctor says so too', async () => {
    const logStart = workerLog.length;
    const started = startWorker('none', { sandbox: 'none' }, {});
    const child = started.child;
    try {
      await waitFor('the warning', () => /WARNING: coding agents run WITHOUT a sandbox \(coding\.sandbox is none\)/.test(workerLog.slice(logStart).join('')), 60_000);
    } finally {
      child.kill('SIGTERM');
    }
    const doctor = execFileSync('node', [BIN.stationCoding, 'doctor', '--json'], { env: { ...process.env, STATION_CONFIG: started.config }, encoding: 'utf8' });
    const check = (JSON.parse(doctor) as Array<{ name: string; ok: boolean; detail: string }>).find((c) => c.name === 'sandbox');
    assert.ok(check, doctor);
    assert.match(check.detail, /WITHOUT a sandbox/);
  });
});

/**
 * The command base64-encoded and piped to bash, as an attacker would: OpenCode asks (and in `run` mode refuses) when
 * it sees a path outside the workspace in a command, so plain paths would test OpenCode's own check, not the walls.
 */
function disguised(command: string): string {
  return `echo ${Buffer.from(command).toString('base64')} | base64 -d | bash`;
}
