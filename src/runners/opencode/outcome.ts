// The result of one turn, built from the real messages of that turn (the assistant messages whose parentID
// is our prompt): tokens and cost per step, tool calls, the final text and the errors the messages carry.
import type { AgentOutcome } from '../../core/runner.js';
import { zeroTokens, type ToolCall } from '../../contract.js';
import { openCodeErrorMessage, type OpenCodeError } from '../opencode-shared/errors.js';
import { addOpenCodeTokens, toolCallOf } from '../opencode-shared/parts.js';
import type { OcMessage } from './server-shapes.js';

export function buildOutcome(
  messages: OcMessage[],
  messageId: string,
  started: number,
  sessionId: string,
): { result: AgentOutcome; errors: OpenCodeError[] } {
  const replies = messages.filter((m) => m.info?.role === 'assistant' && m.info.parentID === messageId);
  const tokens = zeroTokens();
  let cost = 0;
  let steps = 0;
  const toolCalls: ToolCall[] = [];
  const errors: OpenCodeError[] = [];
  let summary = '';
  for (const message of replies) {
    const parts = Array.isArray(message.parts) ? message.parts : [];
    const stepFinishes = parts.filter((p) => p.type === 'step-finish');
    if (stepFinishes.length > 0) {
      // Per-step numbers: exact even when one message holds several steps.
      for (const step of stepFinishes) {
        addOpenCodeTokens(tokens, step.tokens);
        if (typeof step.cost === 'number' && step.cost > 0) cost += step.cost;
      }
      steps += stepFinishes.length;
    } else {
      addOpenCodeTokens(tokens, message.info.tokens);
      if (typeof message.info.cost === 'number' && message.info.cost > 0) cost += message.info.cost;
      if (message.info.time?.completed) steps += 1;
    }
    for (const part of parts) {
      if (part.type !== 'tool') continue;
      const call = toolCallOf(part.tool ?? 'unknown', part.state);
      if (call) toolCalls.push(call);
      else if (part.state && (part.state.status === 'pending' || part.state.status === 'running')) {
        // Interrupted (abort/timeout) while running: report it as failed.
        toolCalls.push({ tool: part.tool ?? 'unknown', input: part.state.input ?? {}, error: 'interrupted' });
      }
    }
    const text = parts
      .filter((p) => p.type === 'text' && !p.synthetic && !p.ignored && p.text?.trim())
      .map((p) => p.text!.trim())
      .join('\n\n');
    if (text) summary = text;
    if (message.info.error) errors.push(message.info.error);
  }
  const result: AgentOutcome = {
    success: false,
    summary,
    backend_session_id: sessionId,
    tokens,
    cost,
    duration_ms: Date.now() - started,
    num_turns: steps,
    tool_calls: toolCalls,
  };
  return { result, errors };
}

export function emptyOutcome(started: number, sessionId: string | undefined, error: string): AgentOutcome {
  return {
    success: false,
    summary: '',
    error,
    backend_session_id: sessionId,
    tokens: zeroTokens(),
    cost: 0,
    duration_ms: Date.now() - started,
    num_turns: 0,
    tool_calls: [],
  };
}

export function sameError(a: OpenCodeError, b: OpenCodeError): boolean {
  return a.name === b.name && openCodeErrorMessage(a) === openCodeErrorMessage(b);
}
