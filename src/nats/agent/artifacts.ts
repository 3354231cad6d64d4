// Task artifacts in the object store (7 days): the full diff of a code task, and results too large to travel
// inline in a message or a KV entry. The task record and the result message carry the reference.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { baseChildEnv } from '../../process/spawn.js';
import { errorLine } from '../../text.js';
import { INLINE_RESULT_BYTES, diffObject, encode, resultObject, type Artifact, type TaskMessage, type TaskRecord } from '../protocol.js';
import type { AgentContext } from './context.js';

const execFileAsync = promisify(execFile);

/** The diff between two snapshots of the task's workspace (git tree ids); none when nothing changed. */
export async function storeDiff(ctx: AgentContext, task: TaskMessage, cwd: string, before: string, after: string): Promise<Artifact[]> {
  if (before === after) return [];
  try {
    // Bytes, not text: a binary diff or a file in another encoding is stored as git wrote it.
    const { stdout } = await execFileAsync('git', ['diff', '--binary', '--no-color', '--no-ext-diff', before, after], {
      cwd,
      env: baseChildEnv({ HOME: process.env.HOME, GIT_TERMINAL_PROMPT: '0' }),
      maxBuffer: 256 * 1024 * 1024,
      encoding: 'buffer',
    });
    const { objects, names } = ctx.link;
    const info = await objects.putBlob({ name: diffObject(task.taskID), description: `diff of ${task.op} task ${task.taskID} of session ${task.session}` }, stdout);
    return [{ kind: 'diff', bucket: names.buckets.objects, name: info.name, bytes: stdout.length, digest: info.digest }];
  } catch (err) {
    ctx.log({ event: 'diff_not_stored', taskID: task.taskID, error: errorLine(err) });
    return [];
  }
}

/** Small results travel inline; large ones go to the object store with a reference in the result. */
export async function inlineOrStore(ctx: AgentContext, task: TaskMessage, result: unknown): Promise<Pick<TaskRecord, 'result' | 'result_ref'>> {
  const bytes = encode(result ?? null);
  if (bytes.length <= INLINE_RESULT_BYTES) return { result };
  const { objects, names } = ctx.link;
  const info = await objects.putBlob({ name: resultObject(task.taskID) }, bytes);
  return { result_ref: { kind: 'result', bucket: names.buckets.objects, name: info.name, bytes: bytes.length, digest: info.digest } };
}
