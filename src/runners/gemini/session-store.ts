// The Gemini CLI's state of one coding session: a HOME of its own under the worker's state directory, holding
// `.gemini/settings.json` (written on every run) and the CLI's conversations (`.gemini/tmp/<project>/chats/
// session-<time>-<first 8 of the id>.jsonl`, whose first line names the full `sessionId`). One HOME per coding
// session means an agent's walls (the sandbox room) contain its own conversations and nobody else's.
//
// Resume (0.61.0): `--session-id <uuid>` starts a conversation under an id we fix up front (so the id is known and
// checkpointed before the model is called); `--resume <uuid>` continues one. Both fail before any model call, exit
// 42: "Session ID "<id>" already exists" and "Invalid session identifier "<id>"".
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AgentTask } from '../../core/runner.js';
import { CodingError } from '../../core/errors.js';
import type { ProcessOutcome } from '../../process/spawn.js';
import { derivedConversationId, isUuid } from '../conversation-id.js';
import { deepMerge } from '../deep-merge.js';
import { sessionHome } from '../session-home.js';

export type SessionMode = { flag: '--session-id' | '--resume'; id: string };

/** The auth types of settings.json that use the user's Google login (their oauth_creds.json) instead of a key. */
const LOGIN_AUTH_TYPES = new Set(['oauth-personal', 'login-with-google']);
/** What a Google login leaves in ~/.gemini: copied into a session's HOME so its CLI is logged in too. */
const LOGIN_FILES = ['oauth_creds.json', 'google_accounts.json'];

/** The HOME of one coding session's Gemini CLI (delete it when the session is closed for good). */
export function geminiHome(stateDir: string, sessionId: string): string {
  return sessionHome(path.join(stateDir, 'gemini'), sessionId);
}

/**
 * The settings the CLI needs to run headless, under the user's own keys: without an auth type it stops ("Invalid
 * auth method selected"), and with folder trust on an unknown workspace downgrades --approval-mode yolo. Quiet:
 * no usage statistics, telemetry or update checks leave the machine.
 */
export function sessionSettings(userConfig: Record<string, unknown> | undefined): Record<string, unknown> {
  const defaults = {
    security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: false } },
    privacy: { usageStatisticsEnabled: false },
    telemetry: { enabled: false },
    general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
  };
  return deepMerge(defaults, userConfig ?? {});
}

/** Create the session's HOME and write its settings (and login) before a run; returns its `.gemini` directory. */
export function prepareHome(home: string, userConfig: Record<string, unknown> | undefined, workerHome = process.env.HOME || os.homedir()): string {
  const dir = path.join(home, '.gemini');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const settings = sessionSettings(userConfig);
  writeFileSync(path.join(dir, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`, { mode: 0o600 });
  const authType = (settings.security as { auth?: { selectedType?: unknown } } | undefined)?.auth?.selectedType;
  if (typeof authType === 'string' && LOGIN_AUTH_TYPES.has(authType)) copyLogin(path.join(workerHome, '.gemini'), dir, authType);
  return dir;
}

/** The user's Google login, copied in (again whenever the worker's copy is newer: the CLI refreshes tokens in place). */
function copyLogin(from: string, to: string, authType: string): void {
  if (!existsSync(path.join(from, LOGIN_FILES[0]!))) {
    throw new CodingError(
      `coding.gemini.config selects the Google login (security.auth.selectedType: ${authType}), but ${from}/${LOGIN_FILES[0]} ` +
        'does not exist: run `gemini` once as the worker user and log in with Google, or use an API key (GEMINI_API_KEY in coding.gemini.env)',
      'auth',
      false,
    );
  }
  for (const name of LOGIN_FILES) {
    const source = path.join(from, name);
    const target = path.join(to, name);
    if (!existsSync(source)) continue;
    if (existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs) continue;
    copyFileSync(source, target);
  }
}

/** The conversation file of `id` in a session's `.gemini` directory, if the CLI wrote one. */
export function findChat(geminiDir: string, id: string): string | undefined {
  const tmp = path.join(geminiDir, 'tmp');
  let projects: string[];
  try {
    projects = readdirSync(tmp);
  } catch {
    return undefined;
  }
  const suffix = `-${id.slice(0, 8)}.jsonl`;
  for (const project of projects) {
    const chats = path.join(tmp, project, 'chats');
    let files: string[];
    try {
      files = readdirSync(chats);
    } catch {
      continue;
    }
    for (const file of files.filter((f) => f.startsWith('session-') && f.endsWith(suffix)).sort().reverse()) {
      const full = path.join(chats, file);
      if (firstLine(full).includes(`"sessionId":${JSON.stringify(id)}`)) return full;
    }
  }
  return undefined;
}

function firstLine(file: string): string {
  try {
    const head = readFileSync(file, 'utf8').slice(0, 4096);
    return head.split('\n', 1)[0] ?? '';
  } catch {
    return '';
  }
}

/**
 * Which conversation a task runs in. A conversation it was given is resumed when its file is here; when it is not
 * (another worker's state, a deleted state dir) the task fails with not_found naming it, and LocalBackend starts a
 * new one. A task without one gets an id derived from the coding session, workspace and prompt: a retry of that task
 * finds what its first attempt left and resumes it instead of failing with "already exists".
 */
export function chooseSession(task: AgentTask, geminiDir: string): SessionMode {
  const given = task.backend_session_id;
  if (given) {
    if (isUuid(given) && findChat(geminiDir, given)) return { flag: '--resume', id: given };
    throw conversationMissing(given, geminiDir);
  }
  const id = derivedConversationId('gemini', task);
  return { flag: findChat(geminiDir, id) ? '--resume' : '--session-id', id };
}

export function conversationMissing(id: string, geminiDir: string): CodingError {
  return new CodingError(`Gemini CLI conversation ${id} not found under ${geminiDir} on this worker`, 'not_found', false);
}

/** The other session flag, when the CLI said the one we used does not fit its store (nothing ran yet then). */
export function sessionFallback(session: SessionMode, outcome: ProcessOutcome, given: string | undefined, geminiDir: string): SessionMode | undefined {
  if (outcome.cancelled || outcome.timedOut) return undefined;
  if (session.flag === '--session-id' && /Session ID .* already exists/i.test(outcome.stderrTail)) return { flag: '--resume', id: session.id };
  if (session.flag === '--resume' && /Invalid session identifier/i.test(outcome.stderrTail)) {
    if (given) throw conversationMissing(given, geminiDir);
    return { flag: '--session-id', id: session.id };
  }
  return undefined;
}
