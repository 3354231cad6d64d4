// 20 concurrent sessions with their worker killed with SIGKILL in the middle of their tasks and restarted with the
// same worker_id: every session finishes with exactly one commit, and no task's agent ever runs beside another in
// its workspace. The real `claude` runs each task (the scripted model makes it log its start, write a file, and
// sleep in a Bash tool call); real worker processes, real Temporal, real git server.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import YAML from 'yaml';
import { CodingClient } from '../src/client/client.js';
import { recordPath } from '../src/process/agent-record.js';
import { BIN, getWorld, type World } from './support/world.js';
import { git, processesIn, waitFor } from './support/helpers.js';
import { defaultScript, type FakeScript } from './support/fake-anthropic.js';

const SESSIONS = 20;

describe('crash at scale', function () {
  let w: World;
  const workers: ChildProcess[] = [];
  before(async () => {
    w = await getWorld();
  });
  after(() => {
    for (const worker of workers) worker.kill('SIGKILL');
    w.claude.setScript(defaultScript());
  });

  it(`${SESSIONS} concurrent sessions, worker killed with SIGKILL mid-task and restarted: one commit each, never two agents at once in a workspace`, async () => {
    const started = Date.now();
    const taskQueue = `scale-${Date.now()}`;
    const config = join(mkdtempSync(join(tmpdir(), 'station-config-')), 'config.yaml');
    // All 20 tasks run at once (the per-worker task limit would otherwise queue most of them): the kill must hit many.
    // No sandbox: each agent's tool logs to a directory outside its workspace, which bwrap would hide.
    writeFileSync(config, YAML.stringify({ coding: { ...w.rawConfig, max_concurrent_tasks: SESSIONS, sandbox: 'none', temporal: { address: w.temporal.address, task_queue: taskQueue, worker_id: 'scale-host' } } }));
    const client = new CodingClient(w.connection, { namespace: 'default', taskQueue });
    const startWorker = () => {
      const worker = spawn('node', [BIN.stationCoding, 'worker'], { env: { ...process.env, STATION_CONFIG: config }, stdio: 'ignore' });
      workers.push(worker);
      return worker;
    };

    // Each agent run appends "start <agent pid>" and, after its slow step, "end <agent pid>" to its session's log.
    const logs = mkdtempSync(join(tmpdir(), 'agent-runs-'));
    const logOf = (workspace: string) => join(logs, basename(workspace));
    let killed = false;
    const script: FakeScript = ({ cwd, turnIndex }) => {
      const log = logOf(cwd!);
      if (turnIndex === 0) return { tool: { name: 'Bash', input: { command: `echo "start $PPID" >> ${log}`, description: 'log' } } };
      if (turnIndex === 1) return { tool: { name: 'Write', input: { file_path: join(cwd!, 'work.txt'), content: 'done once\n' } } };
      // Before the kill the slow step takes far longer than the retry takes to come (heartbeat timeout 20 s): what
      // the dead worker's task left running would still be at work beside the retry. After the kill it takes 3 s.
      if (turnIndex === 2) return { tool: { name: 'Bash', input: { command: `sleep ${killed ? 3 : 60}; echo "end $PPID" >> ${log}`, description: 'slow step' } } };
      return { text: 'Wrote work.txt.' };
    };
    w.claude.setScript(script);

    const url = await w.git.createRepo('crash-scale');
    const first = startWorker();
    const sessions = await Promise.all(Array.from({ length: SESSIONS }, () => client.open({ repo_url: url })));
    const tasks = sessions.map((s) => client.code({ session_id: s.session_id, instruction: 'Write work.txt slowly' }));
    const startedAgents = () => sessions.filter((s) => existsSync(logOf(s.workspace_path))).length;
    await waitFor('half the agents to start', () => startedAgents() >= SESSIONS / 2, 150_000);
    const exited = new Promise((resolve) => first.once('exit', resolve));
    killed = true;
    first.kill('SIGKILL');
    await exited;
    const atKill = { started: startedAgents(), finished: sessions.filter((s) => readLog(logOf(s.workspace_path)).some((l) => l.startsWith('end'))).length };
    startWorker();

    const results = await Promise.all(tasks);
    const commits = await Promise.all(sessions.map((s) => client.commit({ session_id: s.session_id, message: 'Work' })));

    let oneCommit = 0;
    let neverTwoAtOnce = 0;
    const runsPerSession: number[] = [];
    let recordsLeft = 0;
    let processesLeft = 0;
    for (const [i, s] of sessions.entries()) {
      assert.equal(results[i]!.success, true, `session ${i}: ${results[i]!.error}`);
      // A Write the kill interrupted can leave Claude Code's own atomic-write temp file (work.txt.tmp.<pid>.<id>):
      // the killed attempt did write it, so it is reported, never hidden.
      const changed = results[i]!.files_changed.filter((f) => !/^work\.txt\.tmp\.\d+\.[0-9a-f]+$/.test(f.path));
      assert.deepEqual(changed, [{ path: 'work.txt', status: 'added' }], `session ${i}`);
      if (git(s.workspace_path, 'rev-list', '--count', 'origin/main..HEAD') === '1' && git(s.workspace_path, 'rev-parse', 'HEAD') === commits[i]!.commit_hash) oneCommit++;
      // An agent's lines form one block: no agent logged anything once the next one had started.
      const agents = readLog(logOf(s.workspace_path)).map((line) => line.split(' ')[1]!);
      const blocks = agents.filter((agent, j) => j === 0 || agent !== agents[j - 1]);
      if (new Set(blocks).size === blocks.length) neverTwoAtOnce++;
      runsPerSession.push(new Set(agents).size);
      if (existsSync(recordPath(s.workspace_path))) recordsLeft++;
      processesLeft += processesIn(s.workspace_path).length;
    }
    const figures = {
      sessions: SESSIONS,
      agents_started_at_kill: atKill.started,
      agents_finished_at_kill: atKill.finished,
      succeeded: results.filter((r) => r.success).length,
      exactly_one_commit: oneCommit,
      never_two_agents_at_once: neverTwoAtOnce,
      sessions_with_one_agent_run: runsPerSession.filter((n) => n === 1).length,
      sessions_with_two_agent_runs: runsPerSession.filter((n) => n === 2).length,
      agent_records_left: recordsLeft,
      processes_left_in_workspaces: processesLeft,
      seconds: Math.round((Date.now() - started) / 1000),
    };
    console.log(`      figures: ${JSON.stringify(figures)}`);
    assert.equal(oneCommit, SESSIONS);
    assert.equal(neverTwoAtOnce, SESSIONS);
    assert.equal(processesLeft, 0);
    assert.equal(recordsLeft, 0);
    // Only a task the kill interrupted runs a second agent (its retry); none runs more than two.
    assert.ok(runsPerSession.every((n) => n <= 2), JSON.stringify(runsPerSession));
    await Promise.all(sessions.map((s) => client.close({ session_id: s.session_id })));
  });
});

function readLog(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean) : [];
}
