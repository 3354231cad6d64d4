// Reading the Copilot CLI's `--output-format json` output (1.0.102): one JSON event a line, `{type, data, ephemeral?}`.
// What a run reports and this reader keeps:
//   assistant.message        {messageId, content, toolRequests[{toolCallId, name, arguments}]}
//   tool.execution_start     {toolCallId, toolName, arguments}
//   tool.execution_complete  {toolCallId, success, result{content}, error{message}?}
//   session.error            {errorType ("authentication", ...), message, statusCode}
//   result                   {sessionId, exitCode, usage{premiumRequests, codeChanges}}   (the last line)
// Deltas, turn markers and model-call events are ephemeral detail: skipped.
import type { AgentTask } from '../../core/runner.js';
import type { ProgressEvent, ToolCall } from '../../contract.js';
import { truncate } from '../../text.js';
import { lastMessageText } from '../agent-text.js';
import { safeProgress } from '../progress.js';
import { compactInput, describeToolCall } from '../tool-call-text.js';

// Limits that keep a task's result far below Temporal's 2 MB payload limit.
const MAX_TOOL_CALLS = 200;
const MAX_TOOL_TEXT = 2000;
const PROGRESS_TEXT = 500;

interface Event {
  type?: string;
  data?: Record<string, unknown>;
  sessionId?: string;
  exitCode?: number;
}

export interface SessionError {
  errorType?: string;
  message: string;
  statusCode?: number;
}

export class StreamReader {
  result?: { sessionId?: string; exitCode?: number };
  errors: SessionError[] = [];
  private readonly toolCalls: ToolCall[] = [];
  private omittedToolCalls = 0;
  private readonly callsById = new Map<string, ToolCall>();
  private readonly texts: { messageId: string; text: string }[] = [];

  constructor(private readonly task: AgentTask) {}

  /** Reads one line; returns the event's type. */
  onLine(line: string): string | undefined {
    let event: Event;
    try {
      event = JSON.parse(line) as Event;
    } catch {
      return undefined; // not an event (a stray log line)
    }
    if (!event || typeof event !== 'object') return undefined;
    const data = event.data ?? {};
    switch (event.type) {
      case 'assistant.message':
        this.onMessage(data);
        break;
      case 'tool.execution_start':
        this.onToolStart(data);
        break;
      case 'tool.execution_complete':
        this.onToolEnd(data);
        break;
      case 'session.error':
        this.errors.push({
          errorType: typeof data.errorType === 'string' ? data.errorType : undefined,
          message: typeof data.message === 'string' ? data.message : JSON.stringify(data),
          statusCode: typeof data.statusCode === 'number' ? data.statusCode : undefined,
        });
        break;
      case 'result':
        this.result = { sessionId: event.sessionId, exitCode: event.exitCode };
        break;
    }
    return event.type;
  }

  private onMessage(data: Record<string, unknown>): void {
    const text = typeof data.content === 'string' ? data.content : '';
    if (text.trim()) {
      this.texts.push({ messageId: String(data.messageId ?? ''), text });
      this.progress({ kind: 'text', text: truncate(text.trim(), PROGRESS_TEXT) });
    }
  }

  private onToolStart(data: Record<string, unknown>): void {
    const tool = typeof data.toolName === 'string' ? data.toolName : 'unknown';
    this.progress({ kind: 'tool_call', tool, text: describeToolCall(tool, data.arguments) });
    if (this.toolCalls.length >= MAX_TOOL_CALLS) {
      this.omittedToolCalls++;
      return;
    }
    const call: ToolCall = { tool, input: compactInput(data.arguments) };
    this.toolCalls.push(call);
    if (typeof data.toolCallId === 'string') this.callsById.set(data.toolCallId, call);
  }

  private onToolEnd(data: Record<string, unknown>): void {
    const call = typeof data.toolCallId === 'string' ? this.callsById.get(data.toolCallId) : undefined;
    const result = (data.result ?? {}) as { content?: unknown };
    const error = (data.error ?? {}) as { message?: unknown };
    const failed = data.success === false;
    const output = truncate(String((failed ? (error.message ?? result.content) : result.content) ?? '').trim(), MAX_TOOL_TEXT);
    if (call) {
      if (failed) call.error = output || 'tool failed';
      else call.output = output;
    }
    const tool = call?.tool;
    this.progress({ kind: 'tool_result', tool, text: truncate(failed ? `${tool ?? 'tool'} failed: ${output}` : output, PROGRESS_TEXT) });
  }

  /** Tool calls, with a note standing in for those left out. */
  finalToolCalls(): ToolCall[] {
    if (this.omittedToolCalls === 0) return this.toolCalls;
    return [...this.toolCalls, { tool: '(omitted)', output: `${this.omittedToolCalls} more tool calls not recorded` }];
  }

  /** The agent's final answer: the last message that said something. */
  lastAssistantText(): string {
    return lastMessageText(this.texts);
  }

  private progress(event: ProgressEvent): void {
    safeProgress(this.task, event);
  }
}
