// Qwen Code's state of one coding session: a HOME of its own under the worker's state directory, holding
// `.qwen/settings.json` (written on every run) and the CLI's conversations (`.qwen/projects/<cwd with / as ->/
// chats/<session id>.jsonl`). One HOME per coding session: an agent's sandbox room holds its own conversations and
// nobody else's.
//
// Resume (0.24.4): `--session-id <uuid>` starts a conversation under an id we fix up front, so it is checkpointed
// before the model is called; `--resume <uuid>` continues one ("No saved session found ..." and exit 1 when the
// id is unknown, before any model call).
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import { derivedConversationId, isUuid } from '../conversation-id.js';
import { deepMerge } from '../deep-merge.js';
import { sessionHome } from '../session-home.js';

export type Conversation = { flag: '--session-id' | '--resume'; id: string };

export function qwenHome(stateDir: string, sessionId: string): string {
  return sessionHome(stateDir, sessionId);
}

/**
 * The settings a headless run needs, under the user's own keys (coding.qwen.config). Quiet and contained: no usage
 * statistics or update checks leave the machine, and no background agents (memory extraction, "dream", skill
 * review) run after the task: they would call the model again, spend the session's budget on work nobody asked for,
 * and write outside the task's accounting.
 */
export function sessionSettings(userConfig: Record<string, unknown> | undefined): Record<string, unknown> {
  const defaults = {
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: { enableAutoUpdate: false },
    memory: { enableManagedAutoMemory: false, enableManagedAutoDream: false, enableAutoSkill: false },
  };
  return deepMerge(defaults, userConfig ?? {});
}

/** Create the session's HOME and write its settings before a run; returns its `.qwen` directory. */
export function prepareHome(home: string, userConfig: Record<string, unknown> | undefined): string {
  const dir = path.join(home, '.qwen');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(path.join(dir, 'settings.json'), `${JSON.stringify(sessionSettings(userConfig), null, 2)}\n`, { mode: 0o600 });
  return dir;
}

/** Whether the CLI recorded conversation `id` in this `.qwen` directory. */
export function hasConversation(qwenDir: string, id: string): boolean {
  let projects: string[];
  try {
    projects = readdirSync(path.join(qwenDir, 'projects'));
  } catch {
    return false;
  }
  return projects.some((project) => existsSync(path.join(qwenDir, 'projects', project, 'chats', `${id}.jsonl`)));
}

/**
 * Which conversation a task runs in. One it was given is resumed when it is here; when it is not (another worker's
 * state, a deleted state dir) the task fails with not_found naming it, and LocalBackend starts a new one. A task
 * without one gets an id derived from the task: a retry finds what its first attempt left and resumes it.
 */
export function chooseConversation(task: AgentTask, qwenDir: string): Conversation {
  const given = task.backend_session_id;
  if (given) {
    if (isUuid(given) && hasConversation(qwenDir, given)) return { flag: '--resume', id: given };
    throw new CodingError(`Qwen Code conversation ${given} not found under ${qwenDir} on this worker`, 'not_found', false);
  }
  const id = derivedConversationId('qwen', task);
  return { flag: hasConversation(qwenDir, id) ? '--resume' : '--session-id', id };
}
