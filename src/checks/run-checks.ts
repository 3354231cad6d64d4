// Checks: commands that say whether a workspace is good (npm test, pytest -q, go vet ./...), run one after the
// other in the workspace root the way the agent's own commands run: inside its sandbox (the workspace and a
// scratch HOME writable, the worker's HOME, /tmp and its config hidden), from an environment with none of the
// worker's secrets, in their own process group that is killed whole at the timeout or on cancel.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Check, CheckResult } from '../contract.js';
import { baseChildEnv, runProcess } from '../process/spawn.js';
import type { Sandbox } from '../process/sandbox.js';

export interface CheckSettings {
  /** Walls around each check (none when unset or not walled). */
  sandbox?: Sandbox;
  /** How much of the end of the output a result keeps. */
  output_bytes: number;
  /** Cuts secrets out of the output, before the tail is taken (a cut could leave part of one behind). */
  redact?: (text: string) => string;
}

export async function runChecks(checks: Check[], workspace: string, settings: CheckSettings, signal: AbortSignal): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) {
    if (signal.aborted) break;
    results.push(await runCheck(check, workspace, settings, signal));
  }
  return results;
}

async function runCheck(check: Check, workspace: string, settings: CheckSettings, signal: AbortSignal): Promise<CheckResult> {
  // A HOME of its own: tools write caches there (npm, go, pip), never into the worker's HOME.
  const home = await mkdtemp(join(tmpdir(), 'station-check-'));
  const started = Date.now();
  let output = '';
  const keep = (line: string) => {
    output = (output + line + '\n').slice(-settings.output_bytes * 2);
  };
  try {
    const walled = settings.sandbox?.walled ? { sandbox: settings.sandbox, room: { writable: [workspace, home] } } : undefined;
    const outcome = await runProcess({
      file: 'sh',
      // stderr joins stdout, so the tail reads as a terminal would show it.
      args: ['-c', `exec 2>&1\n${check.run}`],
      cwd: workspace,
      env: baseChildEnv({ HOME: home, CI: '1' }),
      timeoutMs: check.timeout_sec * 1000,
      signal,
      onLine: keep,
      sandbox: walled,
    });
    const stopped = outcome.timedOut || outcome.cancelled || outcome.exitCode === undefined;
    const why = outcome.timedOut ? `\n[stopped after ${check.timeout_sec}s (timeout_sec)]\n` : outcome.cancelled ? '\n[cancelled]\n' : outcome.spawnError ? `\n[could not start: ${outcome.spawnError.message}]\n` : '';
    return {
      name: check.name,
      passed: !stopped && outcome.exitCode === 0,
      exit_code: stopped ? null : (outcome.exitCode ?? null),
      duration_ms: Date.now() - started,
      ...(outcome.timedOut ? { timed_out: true } : {}),
      output_tail: tail((settings.redact ?? ((t: string) => t))(output + why), settings.output_bytes),
    };
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** The last `max` characters, from a line start when there is one. */
function tail(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(-max);
  const line = cut.indexOf('\n');
  return `[…]\n${line >= 0 && line < cut.length - 1 ? cut.slice(line + 1) : cut}`;
}
