// Claude Code's session store on disk: whether a conversation can be resumed (--resume) or must be started
// under an id fixed up front (--session-id), and the switch between the two when the CLI disagrees.
import { existsSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { AgentTask } from '../../core/runner.js';
import type { ProcessOutcome } from '../../process/spawn.js';
import { uuidFrom } from '../conversation-id.js';
import type { StreamReader } from './stream-reader.js';

export type SessionMode = { flag: '--session-id' | '--resume'; id: string };

/** Where the CLI keeps its state: $CLAUDE_CONFIG_DIR, else $HOME/.claude. */
export function claudeConfigDir(env: Record<string, string>, home: string): string {
  return env.CLAUDE_CONFIG_DIR || path.join(home, '.claude');
}

/**
 * --resume when the session's transcript exists, else --session-id with an id fixed up front, so the id is
 * known even if the run dies. A first task gets an id derived from the coding session, workspace and prompt:
 * a retry of that same task finds the transcript its first attempt left and resumes it instead of failing
 * with "Session ID ... is already in use"; a later task that was never given the id does the same.
 */
export function chooseSession(task: AgentTask, configDir: string): SessionMode {
  const wanted = task.backend_session_id && isUuid(task.backend_session_id) ? task.backend_session_id : undefined;
  const id = wanted ?? derivedSessionId(task);
  return { flag: sessionExists(configDir, task.workspace_path, id) ? '--resume' : '--session-id', id };
}

function derivedSessionId(task: AgentTask): string {
  return uuidFrom(`station-coding\0${task.session_id}\0${task.workspace_path}\0${task.prompt}`);
}

/** Another id, derived from one that cannot be used, so a retry of the same task derives the same. */
function freshId(id: string): string {
  return uuidFrom(`station-coding fresh\0${id}`);
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/**
 * Transcripts live in <config>/projects/<cwd with every non-alphanumeric character replaced by '-'>/<id>.jsonl,
 * and --resume only finds those of the current working directory. Longer paths (over 200 characters) get a
 * cut name with a hash suffix, and the rule may change in later versions: then the transcript is looked for
 * in every project directory, checking the cwd it records.
 */
function sessionExists(configDir: string, cwd: string, id: string): boolean {
  const projects = path.join(configDir, 'projects');
  const file = `${id}.jsonl`;
  for (const dir of new Set([cwd, realpathOr(cwd)])) {
    if (existsSync(path.join(projects, projectName(dir), file))) return true;
  }
  let dirs: string[];
  try {
    dirs = readdirSync(projects);
  } catch {
    return false;
  }
  return dirs.some((dir) => transcriptRecordsCwd(path.join(projects, dir, file), cwd));
}

function projectName(cwd: string): string {
  return cwd.replace(/[^a-zA-Z0-9]/g, '-');
}

/**
 * The transcript directories of `cwd` (as given and resolved), for a sandbox that shows an agent only its own;
 * none when a name is past the length the simple rule covers (then the store is not narrowed).
 */
export function ownProjectDirs(configDir: string, cwd: string): string[] {
  const names = [...new Set([cwd, realpathOr(cwd)])].map(projectName);
  return names.every((name) => name.length <= 200) ? names.map((name) => path.join(configDir, 'projects', name)) : [];
}

function transcriptRecordsCwd(file: string, cwd: string): boolean {
  try {
    const head = readFileSync(file, 'utf8').slice(0, 64 * 1024);
    return head.includes(`"cwd":${JSON.stringify(cwd)}`) || head.includes(`"cwd":${JSON.stringify(realpathOr(cwd))}`);
  } catch {
    return false;
  }
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/**
 * The other session flag, when the CLI said the one we used does not fit the session store (`attempt`: 0 for the
 * first run of the task, 1 after one switch).
 */
export function sessionFallback(session: SessionMode, stream: StreamReader, outcome: ProcessOutcome, attempt: number): SessionMode | undefined {
  if (outcome.cancelled || outcome.timedOut || stream.sawModelCall) return undefined;
  const said = `${outcome.stderrTail}\n${stream.resultErrors.join('\n')}`;
  // 2.1.197: "Error: Session ID <id> is already in use." on stderr, exit 1, no result line. After a --resume that
  // found no conversation, the transcript is there but holds none (a run killed as it started, seen on a loaded
  // two-worker cluster): the id can be neither resumed nor reused, so the conversation starts under a new one.
  if (session.flag === '--session-id' && /is already in use/i.test(said)) return attempt === 0 ? { flag: '--resume', id: session.id } : { flag: '--session-id', id: freshId(session.id) };
  // 2.1.197: "No conversation found with session ID: <id>", and a result error_during_execution with it in `errors`.
  if (session.flag === '--resume' && /No conversation found/i.test(said)) return { flag: '--session-id', id: session.id };
  return undefined;
}
