// How a tool call is kept and shown: its input with long strings cut (a file write of a large file must not bloat
// the task's result), and one line for progress ("bash: npm test", "create: /ws/a.txt").
import { truncate } from '../text.js';

const MAX_INPUT_STRING = 1000;

export function compactInput(input: unknown, depth = 0): unknown {
  if (typeof input === 'string') return truncate(input, MAX_INPUT_STRING);
  if (Array.isArray(input)) {
    const items = input.slice(0, 50).map((item) => compactInput(item, depth + 1));
    return input.length > 50 ? [...items, `… ${input.length - 50} more items`] : items;
  }
  if (input && typeof input === 'object') {
    if (depth >= 4) return truncate(JSON.stringify(input), MAX_INPUT_STRING);
    return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, compactInput(v, depth + 1)]));
  }
  return input;
}

export function describeToolCall(tool: string, input: unknown): string {
  const fields = (input ?? {}) as Record<string, unknown>;
  const main =
    fields.command ??
    fields.file_path ??
    fields.notebook_path ??
    fields.absolute_path ??
    fields.dir_path ??
    fields.path ??
    fields.pattern ??
    fields.url ??
    fields.description ??
    fields.prompt;
  const text = typeof main === 'string' && main ? main : JSON.stringify(fields);
  return truncate(`${tool}: ${text}`, 300);
}
