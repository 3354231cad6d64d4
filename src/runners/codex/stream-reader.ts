// Reading `codex exec --json` (0.169.0): one JSON event per stdout line —
//   thread.started{thread_id}            the conversation id (new or resumed), first line
//   turn.started                          a turn begins (one per `exec`)
//   item.started / item.updated / item.completed {item{id, type, ...}} with item.type:
//     agent_message{text}                 the model's text (the last one is the answer)
//     reasoning{text}                     a reasoning summary
//     command_execution{command, aggregated_output, exit_code, status}   its shell tool (exec_command)
//     file_change{changes[{path, kind}], status}                          its apply_patch tool
//     mcp_tool_call{server, tool, arguments, result, error, status}
//     web_search{query}, todo_list{items}
//     error{message}                      a warning (e.g. "Model metadata for `m` not found"): not fatal
//   turn.completed{usage}                 the end; usage is the THREAD's running total (see rollout.ts)
//   turn.failed{error{message}}           the turn failed (model API error, ...)
//   error{message}                        an error; fatal ones are followed by turn.failed
// The reader collects what the run reports and forwards progress as it happens.
import type { AgentTask } from '../../core/runner.js';
import type { ProgressEvent, ToolCall } from '../../contract.js';
import { truncate } from '../../text.js';
import { lastMessageText } from '../agent-text.js';
import { safeProgress } from '../progress.js';
import type { CodexUsage } from './rollout.js';

// Limits that keep a task's result far below Temporal's 2 MB payload limit.
const MAX_TOOL_CALLS = 200;
const MAX_TOOL_TEXT = 2000;
const PROGRESS_TEXT = 500;

/** The model-facing names of Codex's tools, used as ToolCall.tool (as other backends use Write, Bash). */
export const SHELL_TOOL = 'exec_command';
export const PATCH_TOOL = 'apply_patch';

interface Item {
  id?: string;
  type?: string;
  text?: string;
  message?: string;
  command?: string;
  aggregated_output?: string;
  exit_code?: number | null;
  status?: string;
  changes?: { path?: string; kind?: string }[];
  server?: string;
  tool?: string;
  arguments?: unknown;
  result?: unknown;
  error?: { message?: string } | string | null;
  query?: string;
}

interface CodexEvent {
  type?: string;
  thread_id?: string;
  item?: Item;
  usage?: CodexUsage;
  error?: { message?: string };
  message?: string;
}

export class CodexStreamReader {
  threadId?: string;
  /** turn.completed's usage: the thread's running total at the end of this run. */
  finalTotal?: CodexUsage;
  completed = false;
  failure?: string;
  /** error events (fatal or not), in order. */
  readonly errors: string[] = [];
  turns = 0;
  readonly toolCalls: ToolCall[] = [];
  private omitted = 0;
  private readonly callsById = new Map<string, ToolCall>();
  private readonly texts: { messageId: string; text: string }[] = [];

  constructor(
    private readonly task: AgentTask,
    private readonly onThread: (id: string) => void,
  ) {}

  onLine(line: string): void {
    let event: CodexEvent;
    try {
      event = JSON.parse(line) as CodexEvent;
    } catch {
      return; // not an event (a stray log line)
    }
    if (!event || typeof event !== 'object') return;
    switch (event.type) {
      case 'thread.started':
        if (typeof event.thread_id === 'string' && event.thread_id) {
          this.threadId = event.thread_id;
          this.onThread(event.thread_id);
        }
        return;
      case 'turn.started':
        this.turns++;
        return;
      case 'item.started':
      case 'item.updated':
      case 'item.completed':
        if (event.item) this.onItem(event.type, event.item);
        return;
      case 'turn.completed':
        this.completed = true;
        if (event.usage) this.finalTotal = event.usage;
        return;
      case 'turn.failed':
        this.failure = event.error?.message ?? 'the turn failed';
        return;
      case 'error':
        if (event.message) this.errors.push(event.message);
        return;
      default:
        return;
    }
  }

  private onItem(phase: string, item: Item): void {
    const done = phase === 'item.completed';
    switch (item.type) {
      case 'agent_message':
        if (done && item.text?.trim()) {
          this.texts.push({ messageId: item.id ?? '', text: item.text });
          this.progress({ kind: 'text', text: truncate(item.text.trim(), PROGRESS_TEXT) });
        }
        return;
      case 'reasoning':
        if (done && item.text?.trim()) this.progress({ kind: 'text', text: truncate(item.text.trim(), PROGRESS_TEXT) });
        return;
      case 'command_execution':
        return this.onTool(phase, item, SHELL_TOOL, { command: item.command ?? '' }, item.command ?? '', () => {
          const output = item.aggregated_output ?? '';
          const failed = item.status === 'failed' || (typeof item.exit_code === 'number' && item.exit_code !== 0);
          return failed ? { error: `exit code ${item.exit_code ?? '?'}${output ? `: ${output}` : ''}` } : { output };
        });
      case 'file_change': {
        const changes = (item.changes ?? []).map((c) => `${c.kind ?? 'update'} ${c.path ?? '?'}`);
        return this.onTool(phase, item, PATCH_TOOL, { changes: item.changes ?? [] }, changes.join(', '), () =>
          item.status === 'failed' ? { error: `patch failed: ${changes.join(', ')}` } : { output: changes.join('\n') },
        );
      }
      case 'mcp_tool_call': {
        const tool = `mcp:${item.server ?? '?'}.${item.tool ?? '?'}`;
        return this.onTool(phase, item, tool, item.arguments, JSON.stringify(item.arguments ?? {}), () => {
          const error = typeof item.error === 'string' ? item.error : item.error?.message;
          return item.status === 'failed' || error ? { error: error || 'tool failed' } : { output: resultText(item.result) };
        });
      }
      case 'web_search':
        if (done) this.progress({ kind: 'tool_call', tool: 'web_search', text: truncate(`web_search: ${item.query ?? ''}`, 300) });
        return;
      case 'error':
        // A warning in the item stream ("Model metadata for `m` not found. Defaulting to fallback metadata"): not fatal.
        if (done && item.message) this.errors.push(item.message);
        return;
      default:
        return;
    }
  }

  /** A tool item: recorded (and announced) when first seen, its result filled in when it completes. */
  private onTool(phase: string, item: Item, tool: string, input: unknown, description: string, result: () => { output?: string; error?: string }): void {
    const id = item.id ?? '';
    let call = this.callsById.get(id);
    if (!call) {
      call = { tool, input };
      this.callsById.set(id, call);
      if (this.toolCalls.length < MAX_TOOL_CALLS) this.toolCalls.push(call);
      else this.omitted++;
      this.progress({ kind: 'tool_call', tool, text: truncate(`${tool}: ${description}`, 300) });
    }
    if (phase !== 'item.completed') return;
    const { output, error } = result();
    if (error !== undefined) call.error = truncate(error, MAX_TOOL_TEXT);
    else call.output = truncate(output ?? '', MAX_TOOL_TEXT);
    this.progress({ kind: 'tool_result', tool, text: truncate(error !== undefined ? `${tool} failed: ${error}` : (output ?? ''), PROGRESS_TEXT) });
  }

  finalToolCalls(): ToolCall[] {
    if (this.omitted === 0) return this.toolCalls;
    return [...this.toolCalls, { tool: '(omitted)', output: `${this.omitted} more tool calls not recorded` }];
  }

  lastAgentText(): string {
    return lastMessageText(this.texts);
  }

  /** Errors that are not the known harmless warnings. */
  fatalErrors(): string[] {
    return this.errors.filter((e) => !/^Model metadata for .* not found/i.test(e));
  }

  private progress(event: ProgressEvent): void {
    safeProgress(this.task, event);
  }
}

function resultText(result: unknown): string {
  if (typeof result === 'string') return result;
  const content = (result as { content?: { type?: string; text?: string }[] } | undefined)?.content;
  if (Array.isArray(content)) return content.map((c) => (c?.type === 'text' ? (c.text ?? '') : `[${c?.type ?? 'content'}]`)).join('\n');
  return result === undefined || result === null ? '' : JSON.stringify(result);
}
