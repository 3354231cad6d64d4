// OpenCode's message parts in our result shapes (both OpenCode runners): token counts, finished tool calls
// and the one-line progress that describes them.
import type { Tokens, ToolCall } from '../../contract.js';
import { truncate } from '../../text.js';

/** Token counts as OpenCode records them on step-finish parts and assistant messages. */
export interface OpenCodeTokenInfo {
  input?: number;
  output?: number;
  reasoning?: number;
  cache?: { read?: number; write?: number };
}

const count = (n: unknown): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? Math.round(n) : 0);

/** Add one step's (or message's) OpenCode token counts to `sum`; OpenCode counts reasoning apart from output, as the contract does. */
export function addOpenCodeTokens(sum: Tokens, tokens: OpenCodeTokenInfo | undefined): void {
  if (!tokens) return;
  sum.input += count(tokens.input);
  sum.output += count(tokens.output);
  sum.reasoning += count(tokens.reasoning);
  sum.cache_read += count(tokens.cache?.read);
  sum.cache_write += count(tokens.cache?.write);
}

export const MAX_TOOL_OUTPUT = 8_000;
const MAX_INPUT_STRING = 4_000;

/** The tool input for the result: long strings (file contents) cut down. */
export function compactInput(input: unknown): unknown {
  if (typeof input === 'string') return truncate(input, MAX_INPUT_STRING);
  if (Array.isArray(input)) return input.map(compactInput);
  if (input && typeof input === 'object') {
    return Object.fromEntries(Object.entries(input as Record<string, unknown>).map(([k, v]) => [k, compactInput(v)]));
  }
  return input;
}

/** A tool part's state (both the CLI's tool_use events and the server's tool parts carry one). */
export interface OpenCodeToolState {
  status?: string;
  input?: unknown;
  output?: string;
  error?: string;
  title?: string;
}

/** The ToolCall of a finished (completed or failed) tool part; undefined while it is still running. */
export function toolCallOf(tool: string, state: OpenCodeToolState | undefined): ToolCall | undefined {
  if (!state || (state.status !== 'completed' && state.status !== 'error')) return undefined;
  const call: ToolCall = { tool, input: compactInput(state.input ?? {}) };
  if (state.status === 'completed') call.output = truncate(String(state.output ?? ''), MAX_TOOL_OUTPUT);
  else call.error = truncate(String(state.error ?? 'tool failed'), MAX_TOOL_OUTPUT);
  return call;
}

/** One line describing a tool call for progress: "bash: ls -la", "write: /ws/a.txt". */
export function describeToolCall(tool: string, state: OpenCodeToolState | undefined): string {
  const input = (state?.input ?? {}) as Record<string, unknown>;
  const main =
    input.command ?? input.filePath ?? input.path ?? input.pattern ?? input.url ?? input.description ?? state?.title;
  const text = typeof main === 'string' && main ? main : JSON.stringify(input);
  return truncate(`${tool}: ${text}`, 300);
}

/** Progress for a finished tool part: its result (or error), shortened. */
export function describeToolResult(tool: string, state: OpenCodeToolState | undefined): string {
  if (state?.status === 'error') return truncate(`${tool} failed: ${state.error ?? ''}`, 500);
  return truncate(String(state?.output ?? ''), 500);
}
