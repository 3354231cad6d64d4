// Helpers for the MCP tests: the server's config and environment, a connected official MCP client, and
// unwrapping of tool results.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { BIN, GIT_TOKEN_ENV, type World } from './world.js';

/** A station config file for `station-coding mcp`: the world's config (its cluster, task queue and fakes). */
export function writeStationConfig(w: World): string {
  const path = join(mkdtempSync(join(tmpdir(), 'station-mcp-config-')), 'config.yaml');
  writeFileSync(path, YAML.stringify({ coding: w.rawConfig }));
  return path;
}

/** The MCP server's environment: the configured cluster, and no git token (the worker resolves it, not the server). */
export function serverEnv(w: World, configPath: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && k !== GIT_TOKEN_ENV) env[k] = v;
  return { ...env, STATION_CONFIG: configPath, TEMPORAL_ADDRESS: w.temporal.address };
}

export interface McpConnection {
  client: Client;
  transport: StdioClientTransport;
  /** The server's stderr, line by line. */
  stderr: string[];
  /** The server process id. */
  pid: number;
}

/** The official MCP client, connected over stdio to `node bin/station-coding.js mcp`. */
export async function connectMcp(env: Record<string, string>): Promise<McpConnection> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [BIN.stationCoding, 'mcp'], env, stderr: 'pipe' });
  const stderr: string[] = [];
  let partial = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop() ?? '';
    stderr.push(...lines);
  });
  const client = new Client({ name: 'station-coding-test', version: '1.0.0' });
  await client.connect(transport);
  return { client, transport, stderr, pid: transport.pid! };
}

/** A successful tool result: its structured content, which the text part repeats as JSON. */
export function structured<T = any>(result: unknown): T {
  const r = result as CallToolResult;
  assert.notEqual(r.isError, true, `tool error: ${JSON.stringify(r.content)}`);
  assert.ok(r.structuredContent, 'structured content');
  const text = r.content.find((c) => c.type === 'text');
  assert.ok(text && text.type === 'text', 'a text part');
  assert.deepEqual(JSON.parse(text.text), r.structuredContent, 'the text part is the same JSON');
  return r.structuredContent as T;
}

/** A tool error: its one-line message. */
export function toolError(result: unknown): string {
  const r = result as CallToolResult;
  assert.equal(r.isError, true, `expected a tool error, got ${JSON.stringify(r)}`);
  assert.equal(r.content.length, 1);
  const text = r.content[0]!;
  assert.ok(text.type === 'text');
  assert.ok(!text.text.includes('\n'), `one line: ${text.text}`);
  return text.text;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
