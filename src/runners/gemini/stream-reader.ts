// Reading the Gemini CLI's `--output-format stream-json` (0.61.0): one JSON event per stdout line —
//   init{session_id, model}
//   message{role: user|assistant, content, delta?}   (assistant text arrives in delta pieces)
//   tool_use{tool_name, tool_id, parameters}          (sent before the tool runs)
//   tool_result{tool_id, status: success|error, output?, error?{type, message}}
//   error{severity: error|warning, message}           (loop detection, turn limits, blocked tools)
//   result{status: success|error, error?{type, message}, stats{total_tokens, input_tokens, output_tokens, cached,
//          input, duration_ms, tool_calls, models{...}}}
// The reader collects what the run reports and forwards progress as it happens.
import type { AgentTask } from '../../core/runner.js';
import { zeroTokens, type ProgressEvent, type Tokens, type ToolCall } from '../../contract.js';
import { truncate } from '../../text.js';
import { lastMessageText } from '../agent-text.js';
import { safeProgress } from '../progress.js';
import { compactInput, describeToolCall } from '../tool-call-text.js';

// Limits that keep a task's result far below Temporal's 2 MB payload limit.
const MAX_TOOL_CALLS = 200;
const MAX_TOOL_TEXT = 2000;
const PROGRESS_TEXT = 500;

export interface ResultStats {
  total_tokens?: number;
  input_tokens?: number;
  output_tokens?: number;
  cached?: number;
  input?: number;
  duration_ms?: number;
  tool_calls?: number;
}

export interface ResultEvent {
  type: 'result';
  status?: string;
  error?: { type?: string; message?: string };
  stats?: ResultStats;
}

interface StreamEvent {
  type?: string;
  session_id?: string;
  model?: string;
  role?: string;
  content?: unknown;
  delta?: boolean;
  tool_name?: string;
  tool_id?: string;
  parameters?: unknown;
  status?: string;
  output?: unknown;
  error?: { type?: string; message?: string };
  severity?: string;
  message?: string;
  stats?: ResultStats;
}

export class StreamReader {
  sessionId: string;
  model?: string;
  result?: ResultEvent;
  /** Messages of `error` events of severity error (warnings go to progress only). */
  readonly errors: string[] = [];
  /** Model responses seen (assistant messages and tool calls between tool results): the run's turns. */
  turns = 0;
  private readonly toolCalls: ToolCall[] = [];
  private omittedToolCalls = 0;
  private readonly callsById = new Map<string, ToolCall>();
  private readonly texts: { messageId: string; text: string }[] = [];
  /** The assistant message being streamed (delta pieces), flushed when something else happens. */
  private pending = '';
  private messageIndex = 0;
  private inTurn = false;

  constructor(
    private readonly task: AgentTask,
    initialSessionId: string,
  ) {
    this.sessionId = initialSessionId;
  }

  onLine(line: string): string | undefined {
    let event: StreamEvent;
    try {
      event = JSON.parse(line) as StreamEvent;
    } catch {
      return undefined; // not an event (a stray log line)
    }
    if (!event || typeof event !== 'object') return undefined;
    switch (event.type) {
      case 'init':
        if (typeof event.session_id === 'string' && event.session_id) this.sessionId = event.session_id;
        if (typeof event.model === 'string') this.model = event.model;
        break;
      case 'message':
        if (event.role === 'assistant' && typeof event.content === 'string') {
          this.startTurn();
          this.pending += event.content;
          if (!event.delta) this.flushText();
        }
        break;
      case 'tool_use':
        this.startTurn();
        this.flushText();
        this.onToolUse(event);
        break;
      case 'tool_result':
        this.flushText();
        this.inTurn = false; // the next text or tool call comes from a new model response
        this.onToolResult(event);
        break;
      case 'error':
        this.flushText();
        this.onError(event);
        break;
      case 'result':
        this.flushText();
        this.result = event as ResultEvent;
        break;
      default:
        return undefined;
    }
    return event.type;
  }

  private startTurn(): void {
    if (this.inTurn) return;
    this.inTurn = true;
    this.turns += 1;
    this.messageIndex += 1;
  }

  private flushText(): void {
    const text = this.pending;
    this.pending = '';
    if (!text.trim()) return;
    this.texts.push({ messageId: String(this.messageIndex), text });
    this.progress({ kind: 'text', text: truncate(text.trim(), PROGRESS_TEXT) });
  }

  private onToolUse(event: StreamEvent): void {
    const tool = event.tool_name || 'unknown';
    this.progress({ kind: 'tool_call', tool, text: describeToolCall(tool, event.parameters) });
    if (this.toolCalls.length >= MAX_TOOL_CALLS) {
      this.omittedToolCalls++;
      return;
    }
    const call: ToolCall = { tool, input: compactInput(event.parameters) };
    this.toolCalls.push(call);
    if (event.tool_id) this.callsById.set(event.tool_id, call);
  }

  private onToolResult(event: StreamEvent): void {
    const call = event.tool_id ? this.callsById.get(event.tool_id) : undefined;
    const failed = event.status === 'error';
    const text = truncate(textOf(failed ? (event.error?.message ?? event.output) : event.output), MAX_TOOL_TEXT);
    if (call) {
      if (failed) call.error = text || 'tool failed';
      else call.output = text;
    }
    const tool = call?.tool;
    this.progress({ kind: 'tool_result', tool, text: truncate(failed ? `${tool ?? 'tool'} failed: ${text}` : text, PROGRESS_TEXT) });
  }

  private onError(event: StreamEvent): void {
    const message = typeof event.message === 'string' ? event.message : JSON.stringify(event);
    if (event.severity !== 'warning') this.errors.push(message);
    this.progress({ kind: 'text', text: truncate(`Gemini CLI ${event.severity ?? 'error'}: ${message}`, PROGRESS_TEXT) });
  }

  /** Flush a message the run ended in the middle of (killed). */
  end(): void {
    this.flushText();
  }

  finalToolCalls(): ToolCall[] {
    if (this.omittedToolCalls === 0) return this.toolCalls;
    return [...this.toolCalls, { tool: '(omitted)', output: `${this.omittedToolCalls} more tool calls not recorded` }];
  }

  lastAssistantText(): string {
    return lastMessageText(this.texts);
  }

  /** The result's token counts, when the run got that far. */
  resultTokens(): Tokens | undefined {
    const stats = this.result?.stats;
    if (!stats) return undefined;
    const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0);
    const cached = n(stats.cached);
    const promptTokens = n(stats.input_tokens);
    const output = n(stats.output_tokens);
    return {
      ...zeroTokens(),
      // input_tokens includes the cached part; `input` is the rest.
      input: stats.input !== undefined ? n(stats.input) : Math.max(0, promptTokens - cached),
      output,
      cache_read: cached,
      // total counts the thinking tokens the other two leave out.
      reasoning: Math.max(0, n(stats.total_tokens) - promptTokens - output),
    };
  }

  private progress(event: ProgressEvent): void {
    safeProgress(this.task, event);
  }
}

function textOf(value: unknown): string {
  if (typeof value === 'string') return value;
  return value === undefined || value === null ? '' : JSON.stringify(value);
}
