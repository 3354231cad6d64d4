// The `opencode-cli` runner: the OpenCode binary as a subprocess, one `opencode run --format json` per task.
//
//   opencode run --format json --dir <ws> [-m provider/model] (--title T | -s <session>)   (prompt on stdin)
//
// Each line on stdout is a JSON event {type, timestamp, sessionID, part | error}: step_start, text,
// reasoning, tool_use (part.tool, part.state{status,input,output|error}; sent when the tool finished),
// step_finish (part.tokens{input,output,reasoning,cache{read,write}}, part.cost; one per model step, so
// they are summed) and error (error{name, data{message, statusCode, isRetryable}}). There is no final
// result line: the exit code and the error events decide success. Later tasks continue the same OpenCode
// session with -s; its state lives in the instance's isolated data dir under state_dir (one per coding
// session), so it survives a worker restart.
//
// Permissions: OpenCode auto-rejects permission asks in `run` mode unless --auto is given. We do not pass
// --auto (it would approve everything not explicitly denied, e.g. edits outside the workspace); the config
import path from 'node:path';
import type { AgentOutcome, AgentRunner, AgentTask } from '../../core/runner.js';
import { zeroTokens, type ToolCall } from '../../contract.js';
import { CodingError } from '../../core/errors.js';
import { runProcess } from '../../process/spawn.js';
import { truncate } from '../../text.js';
import { lastMessageText, stripAnsi } from '../agent-text.js';
import { safeProgress } from '../progress.js';
import { effectiveTimeoutMs } from '../task-limits.js';
import { resolveOpenCodeBinary } from '../opencode-shared/binary.js';
import type { OpenCodeModelSettings } from '../opencode-shared/config.js';
import { instanceDirName, prepareOpenCodeEnv } from '../opencode-shared/env.js';
import { isAbortError, isProviderError, openCodeErrorMessage, providerError, type OpenCodeError } from '../opencode-shared/errors.js';
import { addOpenCodeTokens, describeToolCall, describeToolResult, toolCallOf, type OpenCodeToolState } from '../opencode-shared/parts.js';

export interface OpenCodeCliSettings extends OpenCodeModelSettings {
  binary_path: string;
  timeout_sec: number;
}

interface RunEvent {
  type?: string;
  sessionID?: string;
  part?: {
    id?: string;
    messageID?: string;
    type?: string;
    text?: string;
    tool?: string;
    state?: OpenCodeToolState;
    tokens?: Parameters<typeof addOpenCodeTokens>[1];
    cost?: number;
    reason?: string;
  };
  error?: OpenCodeError;
}

export class OpenCodeCliRunner implements AgentRunner {
  readonly name = 'opencode-cli' as const;

  constructor(private readonly settings: OpenCodeCliSettings) {}

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const { env, dir } = await prepareOpenCodeEnv(this.settings, cliInstanceKey(task.session_id));

    const args = ['run', '--format', 'json', '--dir', task.workspace_path];
    if (this.settings.model) args.push('-m', this.settings.model);
    if (task.backend_session_id) {
      args.push('-s', task.backend_session_id);
      task.onBackendSession?.(task.backend_session_id); // its events carry the same id: no change to report later
    }
    // A title given up front also saves the extra model call OpenCode makes to invent one.
    else args.push('--title', truncate(task.title?.trim() || `station-coding ${task.session_id}`, 100));

    const tokens = zeroTokens();
    let cost = 0;
    let steps = 0;
    let sessionId = task.backend_session_id;
    const toolCalls: ToolCall[] = [];
    const texts: { messageId: string; text: string }[] = [];
    const errors: OpenCodeError[] = [];

    const onLine = (line: string) => {
      let event: RunEvent;
      try {
        event = JSON.parse(line) as RunEvent;
      } catch {
        return; // not an event (a stray log line)
      }
      if (!event || typeof event !== 'object') return;
      if (typeof event.sessionID === 'string' && event.sessionID && event.sessionID !== sessionId) {
        sessionId = event.sessionID;
        task.onBackendSession?.(sessionId);
      }
      const part = event.part;
      switch (event.type) {
        case 'tool_use': {
          const tool = part?.tool ?? 'unknown';
          const call = toolCallOf(tool, part?.state);
          if (!call) return;
          toolCalls.push(call);
          safeProgress(task, { kind: 'tool_call', tool, text: describeToolCall(tool, part?.state) });
          safeProgress(task, { kind: 'tool_result', tool, text: describeToolResult(tool, part?.state) });
          return;
        }
        case 'text': {
          const text = part?.text ?? '';
          if (!text.trim()) return;
          texts.push({ messageId: part?.messageID ?? '', text });
          safeProgress(task, { kind: 'text', text: truncate(text, 500) });
          return;
        }
        case 'step_finish':
          steps += 1;
          addOpenCodeTokens(tokens, part?.tokens);
          if (typeof part?.cost === 'number' && Number.isFinite(part.cost) && part.cost > 0) cost += part.cost;
          task.usage?.(tokens, cost);
          return;
        case 'error':
          errors.push(event.error ?? { name: 'UnknownError', data: { message: line } });
          return;
        default:
          return;
      }
    };

    const binary = resolveOpenCodeBinary(this.settings.binary_path);
    const outcome = await runProcess({
      file: binary,
      args,
      cwd: task.workspace_path,
      env: task.traceparent ? { ...env, TRACEPARENT: task.traceparent } : env,
      stdin: task.prompt,
      timeoutMs,
      signal: task.signal,
      onLine,
      onStart: task.onAgentStart,
      // Inside its walls it writes only the workspace and its own instance directory (HOME, XDG dirs).
      sandbox: this.settings.sandbox?.walled ? { sandbox: this.settings.sandbox, room: { writable: [task.workspace_path, dir] } } : undefined,
    });

    if (outcome.spawnError) {
      throw new CodingError(
        `cannot start the OpenCode binary '${binary}' (${outcome.spawnError.code ?? outcome.spawnError.message}): ` +
          'install opencode-ai (npm i opencode-ai) or set coding.cli.binary_path',
        'binary_missing',
      );
    }

    const result: AgentOutcome = {
      success: false,
      summary: lastMessageText(texts),
      backend_session_id: sessionId,
      tokens,
      cost,
      duration_ms: Date.now() - started,
      num_turns: steps,
      tool_calls: toolCalls,
    };

    if (outcome.cancelled) return { ...result, error: 'cancelled' };
    if (outcome.timedOut) return { ...result, error: `timed out after ${Math.round(timeoutMs / 1000)}s` };

    const providerFailure = errors.find(isProviderError);
    if (providerFailure) throw providerError(providerFailure);

    if (outcome.exitCode === 0 && errors.length === 0) return { ...result, success: true };

    if (errors.length > 0) {
      const aborted = errors.every(isAbortError);
      const message = errors.map(openCodeErrorMessage).join('; ');
      return { ...result, error: aborted ? 'cancelled' : truncate(`opencode: ${message}`, 2000) };
    }
    const stderr = stripAnsi(outcome.stderrTail).trim();
    if (task.backend_session_id && /session not found/i.test(stderr)) {
      throw new CodingError(
        `OpenCode session ${task.backend_session_id} not found in this worker's OpenCode state (${this.settings.state_dir}); ` +
          'it may have been created on another worker or its state deleted',
        'not_found',
      );
    }
    const how = outcome.signal ? `killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    return { ...result, error: truncate(`opencode ${how}${stderr ? `: ${stderr}` : ''}`, 2000) };
  }
}

/**
 * Where the OpenCode state (sessions) of one coding session lives for this runner: delete it when the
 * coding session is closed for good (resume needs it until then).
 */
export function openCodeCliStateDir(stateDir: string, sessionId: string): string {
  return path.resolve(stateDir, instanceDirName(cliInstanceKey(sessionId)));
}

function cliInstanceKey(sessionId: string): string {
  return `cli-${sessionId}`;
}
