// A conversation id fixed before the CLI starts (for CLIs that accept one, e.g. `--session-id <uuid>`): it is in the
// heartbeat checkpoint before the model is called, and a retry of the same task derives the same id, finds what its
// first attempt left, and resumes it instead of starting over.
import { createHash } from 'node:crypto';
import type { AgentTask } from '../core/runner.js';

/** A UUID (version 4 layout) derived from the coding session, workspace and prompt of `task`. */
export function derivedConversationId(cli: string, task: AgentTask): string {
  return uuidFrom(`station-coding ${cli}\0${task.session_id}\0${task.workspace_path}\0${task.prompt}`);
}

/** A UUID (version 4 layout) that `text` always gives. */
export function uuidFrom(text: string): string {
  const hash = createHash('sha256').update(text).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x40; // RFC 4122 version 4 layout
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
