// Coding agents for the opencode-nats tests: real `node bin/station-coding.js nats-agent` processes, each
// with its own YAML config (STATION_CONFIG), workspace directory and agent id, using the claudecode backend
// against the world's fake Anthropic server. Their JSON log lines (stderr) are collected for assertions.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { BIN, type World } from './world.js';
import type { NatsServer } from './nats-server.js';

export interface AgentProcess {
  id: string;
  base: string;
  child: ChildProcess;
  /** Parsed JSON log lines, in order. */
  events: Array<Record<string, any>>;
  /** Every stderr line, raw. */
  lines: string[];
  exited: Promise<number | null>;
  running(): boolean;
  waitFor(what: string, match: (e: Record<string, any>) => boolean, timeoutMs?: number): Promise<Record<string, any>>;
  stop(): Promise<void>;
}

export interface AgentSpec {
  id: string;
  /** Workspace base of the agent (reused when an agent is restarted). */
  base?: string;
  concurrency?: number;
  /** Leave out the creds file (to see the refusal). */
  noCreds?: boolean;
  agentTimeoutSec: number;
}

export function agentConfig(w: World, nats: NatsServer, spec: AgentSpec & { base: string }): Record<string, unknown> {
  const { temporal: _temporal, ...coding } = w.rawConfig;
  return {
    ...coding,
    workspace_base_path: spec.base,
    nats: {
      url: nats.url,
      ...(spec.noCreds ? {} : { creds_file: nats.credsFile }),
      agent_timeout_sec: spec.agentTimeoutSec,
      agent: { id: spec.id, backend: 'claudecode', concurrency: spec.concurrency ?? 2 },
    },
  };
}

export async function startAgent(w: World, nats: NatsServer, spec: AgentSpec, waitStarted = true): Promise<AgentProcess> {
  const base = spec.base ?? mkdtempSync(join(tmpdir(), `station-agent-${spec.id}-`));
  mkdirSync(base, { recursive: true });
  const configPath = join(mkdtempSync(join(tmpdir(), 'station-agent-config-')), 'config.yaml');
  writeFileSync(configPath, YAML.stringify({ coding: agentConfig(w, nats, { ...spec, base }) }));
  const child = spawn('node', [BIN.stationCoding, 'nats-agent'], {
    env: { ...process.env, STATION_CONFIG: configPath, TEMPORAL_ADDRESS: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const events: Array<Record<string, any>> = [];
  const lines: string[] = [];
  let buffer = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      lines.push(line);
      try {
        events.push(JSON.parse(line));
      } catch {
        // not a log event (an error line)
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const agent: AgentProcess = {
    id: spec.id,
    base,
    child,
    events,
    lines,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    async waitFor(what, match, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (!agent.running()) throw new Error(`agent ${spec.id} exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${lines.join('\n')}`);
        if (Date.now() > deadline) throw new Error(`timed out waiting for agent ${spec.id}: ${what}\n${lines.slice(-20).join('\n')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async stop() {
      if (!agent.running()) return;
      child.kill('SIGTERM');
      const done = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 15_000))]);
      if (!done) child.kill('SIGKILL');
    },
  };
  if (waitStarted) await agent.waitFor('started', (e) => e.event === 'started');
  return agent;
}
