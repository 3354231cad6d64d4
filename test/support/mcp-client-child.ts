// An MCP client in its own process, so a test can kill it without goodbye (SIGKILL) and watch what the server
// does. argv[2] is JSON: {bin (bin/station-coding.js), env, repo_url, scope_id}. It opens an agent-scope and a
// workflow-scope session, starts a `code` task in the agent-scope one, prints one JSON line per step on stdout,
// and then waits to be killed.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const { bin, env, repo_url, scope_id } = JSON.parse(process.argv[2]!) as { bin: string; env: Record<string, string>; repo_url: string; scope_id: string };
const say = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

const transport = new StdioClientTransport({ command: process.execPath, args: [bin, 'mcp'], env, stderr: 'inherit' });
const client = new Client({ name: 'station-coding-test-child', version: '1.0.0' });
await client.connect(transport);
say({ step: 'connected', server_pid: transport.pid });

const agent = await client.callTool({ name: 'coding_open', arguments: { repo_url, title: 'agent scope' } });
say({ step: 'agent', result: agent.structuredContent ?? agent.content });
const workflow = await client.callTool({ name: 'coding_open', arguments: { repo_url, scope: 'workflow', scope_id, title: 'workflow scope' } });
say({ step: 'workflow', result: workflow.structuredContent ?? workflow.content });

const sessionId = (agent.structuredContent as { session_id: string }).session_id;
client
  .callTool({ name: 'code', arguments: { session_id: sessionId, instruction: 'Write a file, then sleep' } }, undefined, {
    timeout: 600_000,
    onprogress: (p) => say({ step: 'progress', message: p.message }),
  })
  .then((r) => say({ step: 'code-returned', result: r }))
  .catch((err: Error) => say({ step: 'code-failed', error: err.message }));
say({ step: 'code-started' });
setInterval(() => {}, 60_000);
