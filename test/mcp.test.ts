// `station-coding mcp` with real MCP clients: the official SDK client over stdio (and streamable HTTP), and the
// real `claude` binary as the orchestrating agent. Real Temporal, real git server, real coding backend; only the
// language models are fakes.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import YAML from 'yaml';
import { OpenInput } from '../src/contract.js';
import { BIN, GIT_TOKEN_ENV, ROOT, getWorld, type World } from './support/world.js';
import { freePort } from './support/temporal-server.js';
import { defaultScript, startFakeAnthropic, type FakeScript } from './support/fake-anthropic.js';
import { processesIn, waitFor } from './support/helpers.js';
import { connectMcp, isAlive, serverEnv, structured, toolError, writeStationConfig } from './support/mcp.js';

const TOOLS = ['coding_open', 'code', 'coding_branch', 'coding_commit', 'coding_push', 'coding_check', 'coding_diff', 'coding_pr', 'coding_review', 'coding_close', 'coding_status'];
const LONG = { timeout: 170_000, resetTimeoutOnProgress: true };

describe('MCP server (station-coding mcp)', function () {
  let w: World;
  let env: Record<string, string>;
  let configPath: string;
  before(async () => {
    w = await getWorld();
    configPath = writeStationConfig(w);
    env = serverEnv(w, configPath);
  });

  it('lists the tools with the contract schemas and runs the full git workflow on a private repo', async () => {
    const repo = 'mcp-full';
    const url = await w.git.createRepo(repo, { 'src/app.txt': 'app\n' });
    w.claude.setScript(defaultScript({ file: 'src/health.txt', content: 'status: ok\n', command: 'sleep 3 && cat src/health.txt', finalText: 'Added the health file.' }));
    const { client } = await connectMcp(env);
    try {
      assert.equal(client.getServerVersion()?.name, 'station-coding');
      assert.match(client.getInstructions() ?? '', /coding_open/);

      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
      const byName = new Map(tools.map((t) => [t.name, t]));
      for (const tool of tools) {
        assert.ok(tool.description && tool.description.length > 40, `${tool.name} is described`);
        assert.equal(tool.inputSchema.additionalProperties, false, `${tool.name}: unknown fields are refused`);
        for (const [field, schema] of Object.entries(tool.inputSchema.properties ?? {})) {
          assert.ok((schema as { description?: string }).description, `${tool.name}.${field} has a description`);
        }
        assert.equal(tool.outputSchema?.type, 'object', `${tool.name} declares its result`);
        if (tool.name !== 'coding_open') assert.ok(tool.inputSchema.required?.includes('session_id'), `${tool.name} needs session_id`);
      }
      // coding_open's schema is the contract's, field for field.
      const open = byName.get('coding_open')!;
      const contract = z.toJSONSchema(OpenInput, { io: 'input', target: 'draft-7' }) as { properties: Record<string, unknown> };
      assert.deepEqual(open.inputSchema.properties, contract.properties);
      for (const field of ['repo_url', 'branch', 'workspace_path', 'title', 'scope', 'scope_id', 'backend', 'credentials', 'cleanup_policy', 'session_id']) {
        assert.ok(field in open.inputSchema.properties!, `coding_open takes ${field}`);
      }
      assert.equal(open.inputSchema.required, undefined, 'every coding_open field is optional');
      assert.deepEqual(byName.get('code')!.inputSchema.required?.sort(), ['instruction', 'session_id']);
      for (const field of ['session_id', 'instruction', 'context', 'files']) assert.ok(field in byName.get('code')!.inputSchema.properties!, `code takes ${field}`);
      assert.deepEqual(byName.get('coding_branch')!.inputSchema.required?.sort(), ['branch', 'session_id']);
      for (const field of ['session_id', 'remote', 'branch', 'set_upstream']) assert.ok(field in byName.get('coding_push')!.inputSchema.properties!, `coding_push takes ${field}`);
      for (const field of ['success', 'summary', 'error', 'files_changed', 'trace']) assert.ok(field in byName.get('code')!.outputSchema!.properties!, `code returns ${field}`);

      const opened = structured(await client.callTool({ name: 'coding_open', arguments: { repo_url: url, title: 'Add health' } }));
      assert.equal(opened.repo_cloned, true);
      assert.equal(opened.managed, true);
      assert.equal(opened.attached, false);
      assert.equal(opened.backend, 'claudecode');
      assert.ok(existsSync(join(opened.workspace_path, 'src/app.txt')));
      const session_id = opened.session_id as string;

      const branch = structured(await client.callTool({ name: 'coding_branch', arguments: { session_id, branch: 'feature/health', create: true } }));
      assert.deepEqual(branch, { success: true, branch: 'feature/health', created: true, previous_branch: 'main' });

      const progress: Array<{ progress: number; message?: string }> = [];
      const code = structured(
        await client.callTool(
          { name: 'code', arguments: { session_id, instruction: 'Add a health file', files: ['src/app.txt'] } },
          undefined,
          { ...LONG, onprogress: (p) => progress.push(p) },
        ),
      );
      assert.equal(code.success, true, code.error);
      assert.equal(code.summary, 'Added the health file.');
      assert.deepEqual(code.files_changed, [{ path: 'src/health.txt', status: 'added' }]);
      assert.deepEqual(
        code.trace.tool_calls.map((c: { tool: string }) => c.tool),
        ['Write', 'Bash'],
      );
      assert.ok(code.trace.cost > 0 && code.trace.tokens.input > 0);
      // Progress notifications carried the backend's tool calls while it ran, in increasing order.
      assert.ok(progress.some((p) => /^→ Write\b/.test(p.message ?? '')), `progress: ${JSON.stringify(progress)}`);
      assert.ok(progress.every((p, i) => i === 0 || p.progress > progress[i - 1]!.progress));

      const diff = structured(await client.callTool({ name: 'coding_diff', arguments: { session_id } }));
      assert.deepEqual([diff.files_changed, diff.files[0].path, diff.uncommitted], [1, 'src/health.txt', true]);
      assert.match(diff.patch, /^\+status: ok$/m);

      const commit = structured(await client.callTool({ name: 'coding_commit', arguments: { session_id, message: 'Add health file' } }));
      assert.match(commit.commit_hash, /^[0-9a-f]{40}$/);
      assert.deepEqual({ files: commit.files_changed, ins: commit.insertions, branch: commit.branch }, { files: 1, ins: 1, branch: 'feature/health' });

      const push = structured(await client.callTool({ name: 'coding_push', arguments: { session_id } }));
      assert.deepEqual(push, { success: true, remote: 'origin', branch: 'feature/health', commit_hash: commit.commit_hash, set_upstream: true });
      assert.equal(w.git.git(repo, 'rev-parse', 'refs/heads/feature/health').trim(), commit.commit_hash);
      assert.equal(w.git.git(repo, 'show', 'feature/health:src/health.txt'), 'status: ok\n');
      assert.equal(w.git.git(repo, 'log', '-1', '--format=%an|%s', 'feature/health').trim(), 'Test Bot|Add health file');

      const status = structured(await client.callTool({ name: 'coding_status', arguments: { session_id } }));
      assert.equal(status.state, 'open');
      assert.equal(status.branch, 'feature/health');
      assert.equal(status.tasks_run, 1);

      const closed = structured(await client.callTool({ name: 'coding_close', arguments: { session_id } }));
      assert.deepEqual(closed, { session_id, success: true, reason: 'closed', workspace_path: opened.workspace_path, workspace_deleted: true });
      assert.ok(!existsSync(opened.workspace_path));
    } finally {
      await client.close();
    }
  });

  it('reports bad input and failures as tool errors with the CLI’s one-line messages, and keeps serving', async () => {
    const url = await w.git.createRepo('mcp-errors');
    const { client, pid } = await connectMcp(env);
    const { session_id, workspace_path } = structured(await client.callTool({ name: 'coding_open', arguments: { repo_url: url } }));

    const badBranch = { session_id, branch: '-x', create: true };
    const message = toolError(await client.callTool({ name: 'coding_branch', arguments: badBranch }));
    assert.equal(message, "invalid coding_branch input: branch: must not start with '-' (git would read it as an option)");
    // Word for word what the CLI prints for the same input.
    const cli = await runCli(['branch', '--input', JSON.stringify(badBranch)], { STATION_CONFIG: configPath, TEMPORAL_ADDRESS: w.temporal.address });
    assert.equal(cli.code, 1);
    assert.equal(cli.stderr.trim(), `station-coding: ${message}`);

    assert.equal(
      toolError(await client.callTool({ name: 'coding_push', arguments: { session_id, colour: 'blue', remote: '-o' } })),
      "invalid coding_push input: remote: must be a git remote name (letters, digits, . _ -), not starting with '-'; colour: unknown field",
    );
    assert.equal(toolError(await client.callTool({ name: 'code', arguments: { instruction: 'x' } })), 'invalid code input: session_id: Invalid input: expected string, received undefined');
    assert.equal(toolError(await client.callTool({ name: 'coding_open', arguments: { scope: 'workflow' } })), 'invalid coding_open input: scope_id: is required when scope is "workflow"');
    // Failures inside the session and in Temporal.
    assert.equal(
      toolError(await client.callTool({ name: 'coding_branch', arguments: { session_id, branch: 'no-such-branch' } })),
      "branch 'no-such-branch' does not exist: create it with create: true",
    );
    assert.equal(toolError(await client.callTool({ name: 'coding_commit', arguments: { session_id, message: 'Nothing' } })), 'nothing to commit: the workspace has no changes');
    assert.equal(toolError(await client.callTool({ name: 'coding_status', arguments: { session_id: 'coding_no_such_session' } })), 'session coding_no_such_session not found');
    assert.match(toolError(await client.callTool({ name: 'no_such_tool', arguments: {} })), /no_such_tool not found/);

    // Still serving, and the session is untouched.
    assert.equal(structured(await client.callTool({ name: 'coding_status', arguments: { session_id } })).state, 'open');
    assert.ok(isAlive(pid));

    // A clean disconnect (stdin closed) ends the agent run: its agent-scope session is closed, success false.
    await client.close();
    await waitFor('the session to be closed', async () => (await w.client.status(session_id)).state === 'closed', 15_000);
    const end = await w.client.status(session_id);
    assert.equal(end.tasks.length, 0);
    assert.ok(!existsSync(workspace_path), 'workspace deleted (cleanup policy on_session_end)');
    await waitFor('the server to exit', () => !isAlive(pid), 10_000);
  });

  it('closes a connection’s agent-scope sessions when its client dies; workflow-scope sessions survive and are re-attached', async () => {
    const url = await w.git.createRepo('mcp-gone');
    w.claude.setScript(defaultScript({ file: 'partial.txt', content: 'x\n', command: 'sleep 120', finalText: 'never' }));
    const scope_id = `mcp-${randomBytes(4).toString('hex')}`;
    const child = spawn(process.execPath, [join(ROOT, 'dist/test/support/mcp-client-child.js'), JSON.stringify({ bin: BIN.stationCoding, env, repo_url: url, scope_id })], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const steps: Array<Record<string, any>> = [];
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      const lines = (buffered + chunk.toString('utf8')).split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) steps.push(JSON.parse(line));
    });
    const step = (name: string) => steps.find((s) => s.step === name);
    try {
      await waitFor('the child client to open both sessions and start a task', () => step('code-started') !== undefined, 60_000);
      const agent = step('agent')!.result;
      const workflow = step('workflow')!.result;
      const serverPid = step('connected')!.server_pid as number;
      assert.equal(workflow.session_id, `coding_wf_${scope_id}`);
      assert.equal(workflow.attached, false);
      // Mid-task: the coding agent's command is running in the workspace.
      await waitFor('the task to run in the workspace', () => processesIn(agent.workspace_path).length > 0, 60_000);
      assert.equal((await w.client.status(agent.session_id)).busy, 'code');

      child.kill('SIGKILL'); // no goodbye: the server only sees its stdin close
      await waitFor('the agent-scope session to be closed', async () => (await w.client.status(agent.session_id)).state === 'closed', 60_000);
      assert.ok(!existsSync(agent.workspace_path), 'its workspace is deleted');
      assert.deepEqual(processesIn(agent.workspace_path), [], 'the running task was stopped');
      const closedStatus = await w.client.status(agent.session_id);
      assert.equal(closedStatus.tasks.at(-1)?.success, false);
      await waitFor('the orphaned server to exit', () => !isAlive(serverPid), 15_000);

      // The workflow-scope session lives on, and a later connection re-attaches to it by scope_id.
      assert.equal((await w.client.status(workflow.session_id)).state, 'open');
      assert.ok(existsSync(workflow.workspace_path));
      const { client } = await connectMcp(env);
      try {
        const again = structured(await client.callTool({ name: 'coding_open', arguments: { repo_url: url, scope: 'workflow', scope_id } }));
        assert.equal(again.attached, true);
        assert.equal(again.session_id, workflow.session_id);
        assert.equal(again.workspace_path, workflow.workspace_path);
        const closed = structured(await client.callTool({ name: 'coding_close', arguments: { session_id: again.session_id } }));
        assert.equal(closed.workspace_deleted, true);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('cancelling a code request aborts the task; SIGTERM to the server closes its agent-scope sessions', async () => {
    const url = await w.git.createRepo('mcp-sigterm');
    w.claude.setScript(defaultScript({ file: 'partial.txt', content: 'x\n', command: 'sleep 120', finalText: 'never' }));
    const { client, pid } = await connectMcp(env);
    const { session_id, workspace_path } = structured(await client.callTool({ name: 'coding_open', arguments: { repo_url: url } }));

    const abort = new AbortController();
    const call = client.callTool({ name: 'code', arguments: { session_id, instruction: 'Write, then sleep' } }, undefined, { ...LONG, signal: abort.signal });
    await waitFor('the task to run in the workspace', () => processesIn(workspace_path).length > 0, 60_000);
    abort.abort('changed my mind'); // the client sends notifications/cancelled
    await assert.rejects(call);
    await waitFor('the task to be cancelled', async () => (await w.client.status(session_id)).busy === undefined, 30_000);
    assert.equal((await w.client.status(session_id)).tasks.at(-1)?.error, 'cancelled');
    await waitFor('no process left in the workspace', () => processesIn(workspace_path).length === 0, 10_000);
    assert.equal(structured(await client.callTool({ name: 'coding_status', arguments: { session_id } })).state, 'open', 'the session stays usable');

    process.kill(pid, 'SIGTERM');
    await waitFor('the server to exit', () => !isAlive(pid), 10_000);
    // Closed before the server exited.
    const status = await w.client.status(session_id);
    assert.equal(status.state, 'closed');
    assert.ok(!existsSync(workspace_path));
    await client.close();
  });

  it('serves streamable HTTP on 127.0.0.1 with --http, only with the bearer token; terminating the MCP session closes its agent-scope sessions', async () => {
    const url = await w.git.createRepo('mcp-http');
    const mcpToken = `mcp_${randomBytes(12).toString('hex')}`;
    const server = spawn(process.execPath, [BIN.stationCoding, 'mcp', '--http', '0'], { env: { ...env, STATION_MCP_TOKEN: mcpToken }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      server.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      await waitFor('the HTTP endpoint', () => /http:\/\/127\.0\.0\.1:\d+\/mcp/.test(stderr), 15_000);
      const endpoint = new URL(/http:\/\/127\.0\.0\.1:\d+\/mcp/.exec(stderr)![0]);
      // Without the token, or with another one, nothing is served: 401, naming the variable and never the token.
      for (const authorization of [undefined, 'Bearer not-the-token', `Basic ${Buffer.from(`x:${mcpToken}`).toString('base64')}`]) {
        const denied = await postInitialize(endpoint, { ...(authorization ? { authorization } : {}) });
        assert.equal(denied.status, 401, `authorization ${authorization}`);
        assert.match(denied.body, /unauthorized: send Authorization: Bearer <the value of STATION_MCP_TOKEN>/);
        assert.ok(!denied.body.includes(mcpToken));
      }
      await assert.rejects(new Client({ name: 'no-token', version: '1.0.0' }).connect(new StreamableHTTPClientTransport(endpoint)), /401|unauthorized/i);
      const transport = new StreamableHTTPClientTransport(endpoint, { requestInit: { headers: { authorization: `Bearer ${mcpToken}` } } });
      const client = new Client({ name: 'station-coding-test-http', version: '1.0.0' });
      await client.connect(transport);
      assert.deepEqual((await client.listTools()).tools.map((t) => t.name).sort(), [...TOOLS].sort());
      const { session_id, workspace_path } = structured(await client.callTool({ name: 'coding_open', arguments: { repo_url: url } }));
      await transport.terminateSession();
      await waitFor('the agent-scope session to be closed', async () => (await w.client.status(session_id)).state === 'closed', 30_000);
      assert.ok(!existsSync(workspace_path));
      await client.close();
      // A Host header other than 127.0.0.1/localhost is refused (DNS rebinding), even with the token.
      const rebound = await postInitialize(endpoint, { host: 'evil.example', authorization: `Bearer ${mcpToken}` });
      assert.equal(rebound.status, 403);
      assert.ok(!stderr.includes(mcpToken), 'the token is not logged');
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('--http without a token does not start, and says how to give one; the loopback opt-out serves without', async () => {
    const noToken = { ...env };
    delete noToken.STATION_MCP_TOKEN;
    const refusedRun = await runCli(['mcp', '--http', '0'], noToken);
    assert.equal(refusedRun.code, 1);
    assert.match(refusedRun.stderr, /MCP over HTTP needs a bearer token: set the environment variable STATION_MCP_TOKEN \(coding\.mcp\.token_env\).*allow_unauthenticated_loopback/);
    const optOut = join(mkdtempSync(join(tmpdir(), 'station-mcp-open-')), 'config.yaml');
    writeFileSync(optOut, YAML.stringify({ coding: { ...w.rawConfig, mcp: { allow_unauthenticated_loopback: true } } }));
    const server = spawn(process.execPath, [BIN.stationCoding, 'mcp', '--http', '0'], { env: { ...noToken, STATION_CONFIG: optOut }, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let stderr = '';
      server.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
      await waitFor('the HTTP endpoint', () => /http:\/\/127\.0\.0\.1:\d+\/mcp/.test(stderr), 15_000);
      assert.match(stderr, /no token: coding\.mcp\.allow_unauthenticated_loopback/);
      const endpoint = new URL(/http:\/\/127\.0\.0\.1:\d+\/mcp/.exec(stderr)![0]);
      assert.equal((await postInitialize(endpoint, {})).status, 200);
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('without a Temporal address it uses the embedded dev server and an in-process worker, like the CLI', async () => {
    const url = await w.git.createRepo('mcp-embedded');
    const { temporal: _, ...rest } = w.rawConfig;
    const embeddedConfig = join(mkdtempSync(join(tmpdir(), 'station-mcp-embedded-')), 'config.yaml');
    writeFileSync(embeddedConfig, YAML.stringify({ coding: { ...rest, temporal: { embedded_port: await freePort(), embedded_ui_port: await freePort() } } }));
    const embeddedEnv: Record<string, string> = { ...serverEnv(w, embeddedConfig), STATION_STATE_DIR: mkdtempSync(join(tmpdir(), 'station-state-')) };
    delete embeddedEnv.TEMPORAL_ADDRESS;
    embeddedEnv[GIT_TOKEN_ENV] = w.token; // the in-process worker clones the private repository
    try {
      const first = await connectMcp(embeddedEnv);
      const opened = structured(await first.client.callTool({ name: 'coding_open', arguments: { repo_url: url } }, undefined, LONG));
      assert.equal(opened.repo_cloned, true);
      assert.ok(existsSync(join(opened.workspace_path, 'README.md')));
      await first.client.close(); // the run is over: its worker closes the session before it stops
      assert.ok(first.stderr.some((l) => /closed coding_\S+ in \d+ ms \(success false, workspace deleted\)/.test(l)), first.stderr.join('\n'));
      assert.ok(!existsSync(opened.workspace_path));
      // The embedded server stays up: a later connection finds the closed session there (not on the world's cluster).
      const second = await connectMcp(embeddedEnv);
      try {
        const status = structured(await second.client.callTool({ name: 'coding_status', arguments: { session_id: opened.session_id } }, undefined, LONG));
        assert.equal(status.state, 'closed');
      } finally {
        await second.client.close();
      }
      await assert.rejects(w.client.status(opened.session_id), /not found/);
    } finally {
      await runCli(['server', 'stop'], embeddedEnv);
    }
  });

  it('the real claude binary is the orchestrating agent: open, branch, code, commit, push, close through MCP', async () => {
    const repo = 'mcp-agent';
    const url = await w.git.createRepo(repo, { 'src/app.txt': 'app\n' });
    // The coding backend inside the session: claudecode with the world's fake model.
    w.claude.setScript(defaultScript({ file: 'src/health.txt', content: 'status: ok\n', command: 'cat src/health.txt', finalText: 'Added src/health.txt.' }));
    // The orchestrating agent's model: calls the station tools in turn, reading session_id from coding_open's result.
    const outer = await startFakeAnthropic(orchestratorScript(url));
    try {
      const started = Date.now();
      const ran = await runClaudeAgent(outer.url, `Add a health file to ${url} on a new branch feature/agent and push it.`, stationEntry(w, configPath));
      const events = ran.events;
      const init = events.find((e) => e.type === 'system' && e.subtype === 'init');
      const result = events.find((e) => e.type === 'result');
      assert.equal(ran.code, 0, `claude exited ${ran.code} after ${Date.now() - started} ms\n${ran.stderr}\n${ran.stdout.slice(-3000)}`);
      assert.deepEqual(init?.mcp_servers, [{ name: 'station', status: 'connected' }]);
      assert.equal(result?.is_error, false, JSON.stringify(result));
      assert.deepEqual(result?.permission_denials, []);
      assert.equal(result?.result, 'Pushed feature/agent and closed the session.');

      // The model was offered the station tools, with their schemas.
      const offered = outer.mainRequests()[0]!.body.tools as Array<{ name: string; input_schema: any }>;
      for (const name of TOOLS) assert.ok(offered.some((t) => t.name === `mcp__station__${name}`), `claude offered mcp__station__${name}`);
      assert.ok(offered.find((t) => t.name === 'mcp__station__coding_open')!.input_schema.properties.repo_url.description);

      // Every tool call succeeded; what the driver of the CLI sees is the structured content.
      const toolResults = events.filter((e) => e.type === 'user').flatMap((e) => (Array.isArray(e.message?.content) ? e.message.content : []).filter((b: any) => b.type === 'tool_result'));
      assert.equal(toolResults.length, 6);
      assert.ok(toolResults.every((b: any) => b.is_error !== true), JSON.stringify(toolResults));
      const structuredResults = events.filter((e) => e.type === 'user' && e.tool_use_result?.structuredContent).map((e) => e.tool_use_result.structuredContent);
      const pushed = structuredResults.find((r) => r.set_upstream !== undefined);
      const committed = structuredResults.find((r) => r.insertions !== undefined);
      const closed = structuredResults.find((r) => r.workspace_deleted !== undefined);
      assert.ok(pushed && committed && closed, JSON.stringify(structuredResults));

      // The branch arrived on the git server with the expected commit.
      assert.equal(pushed.branch, 'feature/agent');
      assert.equal(pushed.commit_hash, committed.commit_hash);
      assert.equal(w.git.git(repo, 'rev-parse', 'refs/heads/feature/agent').trim(), committed.commit_hash);
      assert.equal(w.git.git(repo, 'show', 'feature/agent:src/health.txt'), 'status: ok\n');
      assert.equal(w.git.git(repo, 'log', '-1', '--format=%s', 'feature/agent').trim(), 'Add a health file');
      assert.equal(w.git.git(repo, 'rev-parse', 'main').trim(), w.git.git(repo, 'rev-parse', 'feature/agent~1').trim());
      assert.equal(closed.success, true);
      assert.equal((await w.client.status(closed.session_id)).state, 'closed');
    } finally {
      await outer.close();
    }
  });

  it('an agent run that ends without coding_close leaves no session behind: claude exits, the server closes it', async () => {
    const url = await w.git.createRepo('mcp-agent-forgets');
    const outer = await startFakeAnthropic(({ request, turnIndex }) =>
      turnIndex === 0
        ? { tool: { name: 'mcp__station__coding_open', input: { repo_url: url, title: 'Forgotten' } } }
        : { text: `Opened ${openedSessionId(request)} and stopped.` },
    );
    try {
      const ran = await runClaudeAgent(outer.url, 'Open a session and stop.', stationEntry(w, configPath));
      assert.equal(ran.code, 0, ran.stderr);
      const result = ran.events.find((e) => e.type === 'result');
      const session_id = /Opened (coding_\S+) and stopped/.exec(result?.result ?? '')?.[1];
      assert.ok(session_id, JSON.stringify(result));
      // claude ends its MCP servers on exit; the server closes the run's agent-scope session before it goes.
      await waitFor('the session to be closed', async () => (await w.client.status(session_id)).state === 'closed', 15_000);
      const status = await w.client.status(session_id);
      assert.equal(status.workspace_path && existsSync(status.workspace_path), false, 'workspace deleted');
    } finally {
      await outer.close();
    }
  });
});

/** The orchestrating agent's conversation: one station tool per turn, then a final answer. */
function orchestratorScript(repoUrl: string): FakeScript {
  return ({ request, turnIndex }) => {
    const session_id = openedSessionId(request);
    const steps: Array<{ name: string; input: Record<string, unknown> }> = [
      { name: 'coding_open', input: { repo_url: repoUrl, title: 'Add a health file' } },
      { name: 'coding_branch', input: { session_id, branch: 'feature/agent', create: true } },
      { name: 'code', input: { session_id, instruction: 'Add src/health.txt containing "status: ok"', files: ['src/app.txt'] } },
      { name: 'coding_commit', input: { session_id, message: 'Add a health file' } },
      { name: 'coding_push', input: { session_id } },
      { name: 'coding_close', input: { session_id, success: true } },
    ];
    const step = steps[turnIndex];
    if (!step) return { text: 'Pushed feature/agent and closed the session.' };
    if (turnIndex > 0 && !session_id) throw new Error('no session_id in the coding_open result');
    return { text: `Calling ${step.name}.`, tool: { name: `mcp__station__${step.name}`, input: step.input } };
  };
}

/** The session_id in the coding_open tool result the conversation carries (the result reaches the model as JSON text). */
function openedSessionId(request: any): string | undefined {
  for (const message of request?.messages ?? []) {
    if (!Array.isArray(message.content)) continue;
    for (const block of message.content) {
      if (block?.type !== 'tool_result') continue;
      const text = typeof block.content === 'string' ? block.content : (block.content ?? []).map((c: any) => c?.text ?? '').join('');
      try {
        const value = JSON.parse(text);
        if (typeof value?.session_id === 'string' && 'workspace_path' in value) return value.session_id;
      } catch {
        // not JSON: another tool's result
      }
    }
  }
  return undefined;
}

function runCli(args: string[], extra: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN.stationCoding, ...args], { env: { ...process.env, ...extra }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** The mcpServers entry for station-coding, as a user would write it (alwaysLoad: claude -p waits for the server). */
function stationEntry(w: World, configPath: string) {
  return {
    type: 'stdio',
    command: process.execPath,
    args: [BIN.stationCoding, 'mcp'],
    env: { STATION_CONFIG: configPath, TEMPORAL_ADDRESS: w.temporal.address },
    alwaysLoad: true,
  };
}

/** `claude -p` as the orchestrating agent, with only the station MCP server and its fake model at `modelUrl`. */
async function runClaudeAgent(modelUrl: string, prompt: string, entry: Record<string, unknown>): Promise<{ code: number; stdout: string; stderr: string; events: any[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'claude-agent-'));
  const mcpConfig = join(dir, 'mcp.json');
  writeFileSync(mcpConfig, JSON.stringify({ mcpServers: { station: entry } }));
  const ran = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      BIN.claude,
      ['-p', prompt, '--output-format', 'stream-json', '--verbose', '--mcp-config', mcpConfig, '--strict-mcp-config',
        '--allowedTools', 'mcp__station__*', '--max-turns', '12', '--model', 'claude-sonnet-4-5'],
      {
        cwd: dir,
        timeout: 150_000,
        maxBuffer: 16 * 1024 * 1024,
        env: {
          PATH: process.env.PATH,
          HOME: mkdtempSync(join(tmpdir(), 'claude-agent-home-')),
          ANTHROPIC_BASE_URL: modelUrl,
          ANTHROPIC_API_KEY: 'sk-ant-orchestrator',
          CLAUDE_CODE_MAX_RETRIES: '0',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          DISABLE_TELEMETRY: '1',
          DISABLE_AUTOUPDATER: '1',
        },
      },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
  const events = ran.stdout.split('\n').filter((l) => l.trim().startsWith('{')).map((l) => JSON.parse(l));
  return { ...ran, events };
}

/** POST an MCP initialize request with `headers`; the status and body of the answer. */
function postInitialize(endpoint: URL, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
  return new Promise((resolve, reject) => {
    const req = request(endpoint, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
