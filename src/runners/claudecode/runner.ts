// The `claudecode` runner: the Claude Code CLI as a subprocess, one `claude -p` per task.
//
//   claude -p --output-format stream-json --verbose --permission-mode bypassPermissions --max-turns N
//          [--model M] [--tools A,B --allowedTools A,B] [--disallowedTools C,D]
//          (--session-id <uuid> | --resume <uuid>)                               (prompt on stdin)
//
// The working directory is the workspace (there is no --cwd). stdout is read by stream-reader.ts, the
// session flag is chosen by session-store.ts, the result decided by outcome.ts. What Claude Code 2.1.197
// does that these files rely on is written down in the comments where it matters.
import { existsSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentOutcome, AgentRunner, AgentTask } from '../../core/runner.js';
import type { Room } from '../../process/sandbox.js';
import { runProcess } from '../../process/spawn.js';
import { safeProgress } from '../progress.js';
import { effectiveTimeoutMs } from '../task-limits.js';
import { claudeArgs } from './arguments.js';
import type { ClaudeCodeSettings } from './settings.js';
import { binaryMissing, resolveClaudeBinary } from './binary.js';
import { childEnv } from './environment.js';
import { secretValues } from '../child-secrets.js';
import { interpret } from './outcome.js';
import { chooseSession, claudeConfigDir, ownProjectDirs, sessionFallback } from './session-store.js';
import { StreamReader } from './stream-reader.js';

export class ClaudeCodeRunner implements AgentRunner {
  readonly name = 'claudecode' as const;

  constructor(private readonly settings: ClaudeCodeSettings) {}

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const home = this.settings.home ?? process.env.HOME ?? os.homedir();
    if (this.settings.home) mkdirSync(home, { recursive: true });
    const env = childEnv(home, this.settings.env);
    if (task.traceparent) env.TRACEPARENT = task.traceparent; // a CLI that emits telemetry can join our trace
    const secrets = secretValues(env);
    const binary = resolveClaudeBinary(this.settings.binary_path);
    const deadline = started + timeoutMs;
    const sandbox = this.settings.sandbox?.walled ? { sandbox: this.settings.sandbox, room: claudeRoom(task.workspace_path, home, env) } : undefined;

    let session = chooseSession(task, claudeConfigDir(env, home));
    if (task.backend_session_id && session.flag === '--session-id') {
      // Another worker's HOME, or a deleted store: the workspace is still here, the conversation is not.
      safeProgress(task, {
        kind: 'text',
        text: `Claude Code session ${task.backend_session_id} not found under ${claudeConfigDir(env, home)}; starting a new conversation`,
      });
    }
    for (let attempt = 0; ; attempt++) {
      task.onBackendSession?.(session.id);
      const stream = new StreamReader(task, session.id);
      const abort = new AbortController();
      const outcome = await runProcess({
        file: binary,
        args: claudeArgs(this.settings, session, task.budget?.max_cost_usd),
        cwd: task.workspace_path,
        env,
        stdin: task.prompt,
        timeoutMs: Math.max(1, deadline - Date.now()),
        sandbox,
        signal: AbortSignal.any([task.signal, abort.signal]),
        onStart: task.onAgentStart,
        onLine: (line) => {
          stream.onLine(line);
          if (stream.authFailure && !abort.signal.aborted) abort.abort();
        },
      });
      if (outcome.spawnError) throw binaryMissing(binary, outcome.spawnError);

      // The session store and the id we chose disagree (a file we did not find, one that is gone, or one that
      // holds no conversation): switch flags (then, at most once more, the id) and run again. Nothing ran yet.
      const retry = attempt < 2 ? sessionFallback(session, stream, outcome, attempt) : undefined;
      if (retry) {
        session = retry;
        continue;
      }
      return interpret({ stream, outcome, started, timeoutMs, secrets, home, task });
    }
  }
}

/**
 * What claude may write inside its walls: the workspace and its own state. A HOME of its own (claudecode.home)
 * is its room whole; in the worker's HOME only claude's directory and file are, the rest stays hidden.
 */
function claudeRoom(workspace: string, home: string, env: Record<string, string>): Room {
  const configDir = claudeConfigDir(env, home);
  mkdirSync(configDir, { recursive: true });
  // The transcripts of this worker's other sessions (their code, tool output) are not this agent's to read.
  const own = ownProjectDirs(configDir, workspace);
  for (const dir of own) mkdirSync(dir, { recursive: true });
  const shared = own.length ? [{ dir: path.join(configDir, 'projects'), keep: own }] : [];
  const workerHome = path.resolve(process.env.HOME || os.homedir());
  if (path.resolve(home) !== workerHome) return { writable: [workspace, home, configDir], shared };
  const stateFile = path.join(home, '.claude.json');
  return { writable: [workspace, configDir, ...(existsSync(stateFile) ? [stateFile] : [])], shared };
}
