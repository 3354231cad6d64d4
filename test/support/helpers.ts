// Small helpers shared by the end-to-end tests.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { CodeResult, type Backend } from '../../src/contract.js';
import type { World } from './world.js';
import { defaultScript as claudeScript } from './fake-anthropic.js';
import { copilotScript, defaultScript as openaiScript, qwenScript } from './fake-openai.js';
import { CODEX_SHELL_TOOL, defaultScript as codexScript } from './fake-responses.js';
import { defaultScript as geminiScript } from './fake-gemini.js';

/** Pids of processes whose working directory is `dir` or inside it (what a killed task must not leave). */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to look at
    }
  }
  return pids;
}

/** The command line of a process ('' for a zombie being reaped, or one that is gone). */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** processesIn() with each command line; zombies left out. */
export function processCommands(dir: string): Array<{ pid: number; cmd: string }> {
  return processesIn(dir)
    .map((pid) => ({ pid, cmd: commandOf(pid) }))
    .filter((p) => p.cmd !== '');
}

/** A process that exists and is not a zombie. */
export const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');

/** `pgrep -af pattern`, without pgrep itself: one line per process. */
export function pgrep(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-af', pattern], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line.trim() && !line.includes('pgrep'));
  } catch {
    return []; // exit 1: nothing found
  }
}

/** pid, parent and command line of a process, for failure messages. */
export function describeProcess(pid: number): string {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    const ppid = /PPid:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return `${pid} (parent ${ppid}): ${cmd}`;
  } catch {
    return `${pid} (gone)`;
  }
}

export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();
}

/** The result of `code` has exactly the contract's shape, for every backend. */
export function assertCodeResult(result: unknown): CodeResult {
  const parsed = CodeResult.strict().safeParse(result);
  assert.ok(parsed.success, `code result does not match the contract: ${JSON.stringify(parsed.error?.issues)}`);
  return parsed.data;
}

export interface BackendCase {
  name: Backend;
  /** Tool names as this backend's model sees them. */
  writeTool: string;
  bashTool: string;
  script(world: World, opts?: Parameters<typeof claudeScript>[0]): void;
  /** A budget (USD) that the scripted three-step task crosses before it ends. */
  budgetBelowOneTask: number;
  /** Requests the agent made to the fake model (the conversation, not incidental calls). */
  mainRequests(world: World): Array<{ body: any }>;
}

/** One table of backends: every session guarantee is proved for each of them. */
export const LOCAL_BACKENDS: BackendCase[] = [
  {
    name: 'claudecode',
    writeTool: 'Write',
    bashTool: 'Bash',
    budgetBelowOneTask: 0.005, // one scripted model call costs about $0.0064
    script: (w, o) => w.claude.setScript(claudeScript(o)),
    mainRequests: (w) => w.claude.mainRequests(),
  },
  {
    name: 'opencode',
    writeTool: 'write',
    bashTool: 'bash',
    budgetBelowOneTask: 0.001, // each scripted step costs $0.000756
    script: (w, o) => w.openai.setScript(openaiScript(o)),
    mainRequests: (w) => w.openai.mainRequests(),
  },
  {
    name: 'opencode-cli',
    writeTool: 'write',
    bashTool: 'bash',
    budgetBelowOneTask: 0.001, // each scripted step costs $0.000756
    script: (w, o) => w.openai.setScript(openaiScript(o)),
    mainRequests: (w) => w.openai.mainRequests(),
  },
  {
    name: 'codex',
    // Codex offers a custom provider's model one shell tool; the fake writes the file with it too.
    writeTool: CODEX_SHELL_TOOL,
    bashTool: CODEX_SHELL_TOOL,
    budgetBelowOneTask: 0.002, // each scripted step costs $0.00168 at the test world's coding.pricing
    script: (w, o) => w.responses.setScript(codexScript(o)),
    mainRequests: (w) => w.responses.mainRequests(),
  },
  {
    name: 'gemini',
    writeTool: 'write_file',
    bashTool: 'run_shell_command',
    budgetBelowOneTask: 0.0005, // each scripted step costs about $0.00045 at the test world's coding.pricing
    script: (w, o) => w.gemini.setScript(geminiScript(o)),
    mainRequests: (w) => w.gemini.mainRequests(),
  },
  {
    name: 'qwen',
    writeTool: 'write_file',
    bashTool: 'run_shell_command',
    budgetBelowOneTask: 0.0005, // each scripted step costs $0.00038 at the test world's coding.pricing
    script: (w, o) => w.openai.setScript(qwenScript(o)),
    mainRequests: (w) => w.openai.mainRequests(),
  },
  {
    name: 'copilot',
    writeTool: 'create',
    bashTool: 'bash',
    budgetBelowOneTask: 0.0005, // each scripted step costs $0.000444 at the test world's coding.pricing
    script: (w, o) => w.openai.setScript(copilotScript(o)),
    mainRequests: (w) => w.openai.mainRequests(),
  },
];

/** Payloads in `temporal workflow show --output json` are base64: decode every one, so the search sees their text. */
export function decodePayloads(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) {
    for (const child of node) decodePayloads(child, out);
  } else if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    if (typeof record.data === 'string' && record.metadata && typeof record.metadata === 'object') {
      out.push(Buffer.from(record.data, 'base64').toString('utf8'));
    }
    for (const child of Object.values(record)) decodePayloads(child, out);
  }
  return out;
}
