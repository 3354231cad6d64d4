// The Copilot CLI's state of one coding session: a HOME of its own under the worker's state directory, holding
// `.copilot/` (settings, logs, and `session-state/<session id>/events.jsonl`, the conversation's event log). One
// HOME per coding session: an agent's sandbox room holds its own conversations and nobody else's.
//
// Resume (1.0.102): `--session-id <uuid>` continues the session with that id, or starts a new one under it. So a
// new conversation gets an id fixed up front (checkpointed before the model is called), and a retry of the same
// task derives the same id and continues what its first attempt left.
import { cpSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import { derivedConversationId, isUuid } from '../conversation-id.js';
import { sessionHome } from '../session-home.js';

export function copilotHome(stateDir: string, sessionId: string): string {
  return sessionHome(path.join(stateDir, 'sessions'), sessionId);
}

/** The session's own node compile cache (package-cache.ts says why). */
export const compileCacheIn = (home: string) => path.join(home, '.cache', 'node-compile-cache');

/** Create the session's HOME, its compile cache started from the worker's; returns its `.copilot` directory. */
export function prepareHome(home: string, workerCompileCache: string): string {
  const dir = path.join(home, '.copilot');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const own = compileCacheIn(home);
  if (!existsSync(own) && existsSync(workerCompileCache)) cpSync(workerCompileCache, own, { recursive: true });
  return dir;
}

/** The event log of conversation `id` (the CLI appends to it as the run goes). */
export function eventsFile(copilotDir: string, id: string): string {
  return path.join(copilotDir, 'session-state', id, 'events.jsonl');
}

/**
 * Which conversation a task runs in. One it was given is continued when it is here; when it is not (another
 * worker's state, a deleted state dir) the task fails with not_found naming it, and LocalBackend starts a new one
 * (with --session-id the CLI would silently start an empty one under the old id).
 */
export function chooseConversation(task: AgentTask, copilotDir: string): string {
  const given = task.backend_session_id;
  if (!given) return derivedConversationId('copilot', task);
  if (isUuid(given) && existsSync(eventsFile(copilotDir, given))) return given;
  throw new CodingError(`Copilot CLI conversation ${given} not found under ${copilotDir} on this worker`, 'not_found', false);
}
