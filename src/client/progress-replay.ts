// No tool call is lost to --tail or MCP progress: the live progress rides on the task's heartbeat, and a task
// that ends right after a tool call may finish before that heartbeat is read. The result lists every tool call,
// so the calls the live feed did not show are replayed from it once the result is in.
import type { ProgressEvent, ToolCall } from '../contract.js';
import { truncate } from '../text.js';

/** The progress events for the tool calls after the first `shown` of `calls` (the ones the live feed delivered). */
export function replayedToolCalls(calls: ToolCall[], shown: number): ProgressEvent[] {
  return calls.slice(shown).flatMap((call): ProgressEvent[] => {
    const events: ProgressEvent[] = [{ kind: 'tool_call', tool: call.tool, text: describeInput(call.tool, call.input) }];
    if (call.error !== undefined) events.push({ kind: 'tool_result', tool: call.tool, text: truncate(`${call.tool} failed: ${call.error}`, 300) });
    else if (call.output !== undefined) events.push({ kind: 'tool_result', tool: call.tool, text: truncate(call.output, 300) });
    return events;
  });
}

/** "Bash: npm test", "Write: /ws/a.txt": the field that says most, as the backends' live progress does. */
function describeInput(tool: string, input: unknown): string {
  const fields = (input ?? {}) as Record<string, unknown>;
  const main =
    fields.command ?? fields.file_path ?? fields.filePath ?? fields.notebook_path ?? fields.path ?? fields.pattern ?? fields.url ?? fields.description ?? fields.prompt;
  const text = typeof main === 'string' && main ? main : JSON.stringify(fields);
  return truncate(`${tool}: ${text}`, 300);
}
