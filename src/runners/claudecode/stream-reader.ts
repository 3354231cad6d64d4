// Reading Claude Code's stream-json output: every stdout line is a JSON event — system/init (session_id,
// tools, model), system/api_retry (attempt, error_status), assistant (one event per content block: text or
// tool_use{id,name,input}), user (tool_result{tool_use_id, content, is_error}) and a final `result`
// (subtype, is_error, api_error_status, result, session_id, total_cost_usd, usage, num_turns).
// The reader collects what the run reports and forwards progress as it happens.
import type { AgentTask } from '../../core/runner.js';
import { addTokens, zeroTokens, type ProgressEvent, type Tokens, type ToolCall } from '../../contract.js';
import { truncate } from '../../text.js';
import { lastMessageText } from '../agent-text.js';
import { safeProgress } from '../progress.js';
import { compactInput, describeToolCall } from '../tool-call-text.js';

// Limits that keep a task's result far below Temporal's 2 MB payload limit.
const MAX_TOOL_CALLS = 200;
const MAX_TOOL_TEXT = 2000;
const PROGRESS_TEXT = 500;

/**
 * The CLI retries a 401 like a transient error (10 attempts over about three minutes). One retry is left to
 * it (it may refresh a login); after that the run is stopped and reported as an auth failure.
 */
const AUTH_RETRY_ATTEMPTS_TOLERATED = 1;

interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

interface ContentBlock {
  type?: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

interface StreamEvent {
  type?: string;
  subtype?: string;
  session_id?: string;
  message?: { id?: string; model?: string; content?: ContentBlock[] | string; usage?: Usage };
  // system/api_retry
  attempt?: number;
  max_retries?: number;
  retry_delay_ms?: number;
  error_status?: number | null;
  error?: string;
  // result
  is_error?: boolean;
  api_error_status?: number | null;
  result?: string;
  total_cost_usd?: number;
  usage?: Usage;
  num_turns?: number;
  errors?: string[];
}

export type ResultEvent = StreamEvent & { type: 'result' };

/** Collects what a run reports, and forwards progress as it happens. */
export class StreamReader {
  sessionId: string;
  result?: ResultEvent;
  authFailure?: { status: number; error: string };
  /** True once the CLI reached the model (anything beyond system/init). */
  sawModelCall = false;
  resultErrors: string[] = [];
  readonly toolCalls: ToolCall[] = [];
  private omittedToolCalls = 0;
  private readonly callsById = new Map<string, ToolCall>();
  private readonly toolNames = new Map<string, string>();
  /** Text blocks of the assistant, with the id of the message they belong to. */
  private readonly texts: { messageId: string; text: string }[] = [];
  /** Latest usage seen per assistant message (a message's blocks arrive as separate events). */
  private readonly usageByMessage = new Map<string, Usage>();

  constructor(
    private readonly task: AgentTask,
    initialSessionId: string,
    /** Qwen Code's result counts the whole conversation, earlier tasks too: then a task's tokens are its messages'. */
    private readonly resultUsage: 'this-run' | 'conversation' = 'this-run',
  ) {
    this.sessionId = initialSessionId;
  }

  onLine(line: string): void {
    let event: StreamEvent;
    try {
      event = JSON.parse(line) as StreamEvent;
    } catch {
      return; // not an event (a stray log line)
    }
    if (!event || typeof event !== 'object') return;
    if (typeof event.session_id === 'string' && event.session_id) this.sessionId = event.session_id;
    switch (event.type) {
      case 'system':
        if (event.subtype === 'api_retry') this.onApiRetry(event);
        return;
      case 'assistant':
        this.sawModelCall = true;
        this.onAssistant(event);
        return;
      case 'user':
        this.onUser(event);
        return;
      case 'result':
        this.result = event as ResultEvent;
        this.resultErrors = Array.isArray(event.errors) ? event.errors.map(String) : [];
        return;
      default:
        return;
    }
  }

  private onApiRetry(event: StreamEvent): void {
    this.sawModelCall = true;
    const status = event.error_status ?? 0;
    if ((status === 401 || status === 403) && (event.attempt ?? 0) > AUTH_RETRY_ATTEMPTS_TOLERATED) {
      this.authFailure = { status, error: event.error ?? 'authentication_failed' };
    }
    // Claude Code retries an unreachable or failing model for minutes: say so as it happens, not only at the end.
    const why = status ? `HTTP ${status}` : 'no answer';
    const delay = typeof event.retry_delay_ms === 'number' ? ` in ${(event.retry_delay_ms / 1000).toFixed(1)} s` : '';
    this.progress({ kind: 'text', text: `the model API failed (${why}); Claude Code retries${delay} (attempt ${event.attempt ?? '?'} of ${event.max_retries ?? '?'})` });
  }

  private onAssistant(event: StreamEvent): void {
    const message = event.message;
    const messageId = message?.id ?? '';
    if (message?.usage) {
      this.usageByMessage.set(messageId, message.usage);
      // Tokens as the run goes (a max_tokens budget, a cancelled task's record, the live view). Claude Code prices
      // a run only in its result (total_cost_usd), so the cost so far is 0 here; max_cost_usd is its own flag.
      this.task.usage?.(this.tokens(), 0);
    }
    if (!Array.isArray(message?.content)) return;
    for (const block of message.content) {
      if (block.type === 'text' && block.text?.trim()) {
        this.texts.push({ messageId, text: block.text });
        this.progress({ kind: 'text', text: truncate(block.text.trim(), PROGRESS_TEXT) });
      } else if (block.type === 'tool_use') {
        this.onToolUse(block);
      }
    }
  }

  private onToolUse(block: ContentBlock): void {
    const tool = block.name ?? 'unknown';
    if (block.id) this.toolNames.set(block.id, tool);
    this.progress({ kind: 'tool_call', tool, text: describeToolCall(tool, block.input) });
    if (this.toolCalls.length >= MAX_TOOL_CALLS) {
      this.omittedToolCalls++;
      return;
    }
    const call: ToolCall = { tool, input: compactInput(block.input) };
    this.toolCalls.push(call);
    if (block.id) this.callsById.set(block.id, call);
  }

  private onUser(event: StreamEvent): void {
    const content = event.message?.content;
    if (!Array.isArray(content)) return;
    for (const block of content) {
      if (block.type !== 'tool_result') continue;
      const output = truncate(toolResultText(block.content), MAX_TOOL_TEXT);
      const tool = (block.tool_use_id && this.toolNames.get(block.tool_use_id)) || undefined;
      const call = block.tool_use_id ? this.callsById.get(block.tool_use_id) : undefined;
      if (call) {
        if (block.is_error) call.error = output || 'tool failed';
        else call.output = output;
      }
      this.progress({
        kind: 'tool_result',
        tool,
        text: truncate(block.is_error ? `${tool ?? 'tool'} failed: ${output}` : output, PROGRESS_TEXT),
      });
    }
  }

  /** Tool calls, with a note standing in for those left out. */
  finalToolCalls(): ToolCall[] {
    if (this.omittedToolCalls === 0) return this.toolCalls;
    return [...this.toolCalls, { tool: '(omitted)', output: `${this.omittedToolCalls} more tool calls not recorded` }];
  }

  /** The text of the last assistant message that said something. */
  lastAssistantText(): string {
    return lastMessageText(this.texts);
  }

  /** Tokens from the result; without one (killed), the sum of what the assistant messages reported. */
  tokens(): Tokens {
    if (this.result?.usage && this.resultUsage === 'this-run') return tokensOf(this.result.usage);
    let sum = zeroTokens();
    for (const usage of this.usageByMessage.values()) sum = addTokens(sum, tokensOf(usage));
    return sum;
  }

  private progress(event: ProgressEvent): void {
    safeProgress(this.task, event);
  }
}

function tokensOf(usage: Usage): Tokens {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0);
  // Claude reports thinking tokens inside output_tokens, not separately.
  return {
    input: n(usage.input_tokens),
    output: n(usage.output_tokens),
    reasoning: 0,
    cache_read: n(usage.cache_read_input_tokens),
    cache_write: n(usage.cache_creation_input_tokens),
  };
}

/** A tool_result's content: a string, or a list of blocks (text, image, ...). */
function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: string }) => (part?.type === 'text' ? (part.text ?? '') : `[${part?.type ?? 'content'}]`))
      .join('\n');
  }
  return content === undefined || content === null ? '' : JSON.stringify(content);
}
