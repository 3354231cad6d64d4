// At worker start, the managed workspaces under coding.workspace_base_path are checked: processes a killed
// worker's task left in them are reaped (agent-record.ts), and a workspace whose session has ENDED (Temporal
// says its workflow is closed, or knows no such workflow) is removed with its processes, after its unsaved work
// is saved (save-work.ts). Never the workspace of a running session, never one kept on purpose (kept.ts), never
// a workspace_path the user gave (those are not under the base path). Each removal is logged.
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import proto from '@temporalio/proto';
import type { LocalWorkspace } from '../git/workspace.js';
import { isKept } from '../git/kept.js';
import { reapRecordedAgent } from '../process/agent-record.js';
import { killProcessesIn } from '../process/proc.js';

type WorkflowService = proto.temporal.api.workflowservice.v1.WorkflowService;
const RUNNING = proto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
const NOT_FOUND = 5; // gRPC status

/** The session id a managed workspace directory was named after (the inverse of LocalWorkspace.managedPath). */
export function sessionIdOfWorkspace(dirName: string): string | undefined {
  if (!dirName.startsWith('ws_')) return undefined;
  return dirName.slice(3).replace(/=([0-9a-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** 'ended', 'running', or undefined when Temporal cannot tell now (then nothing is removed). */
async function sessionState(service: WorkflowService, namespace: string, workflowId: string): Promise<'ended' | 'running' | undefined> {
  try {
    const described = await service.describeWorkflowExecution({ namespace, execution: { workflowId } });
    return described.workflowExecutionInfo?.status === RUNNING ? 'running' : 'ended';
  } catch (err) {
    return (err as { code?: number }).code === NOT_FOUND ? 'ended' : undefined;
  }
}

export interface SweepDeps {
  workspace: LocalWorkspace;
  workflowService: WorkflowService;
  namespace: string;
  log: (line: string) => void;
}

export async function sweepAtStart({ workspace, workflowService, namespace, log }: SweepDeps): Promise<void> {
  const base = workspace.settings.base_path;
  for (const entry of await readdir(base, { withFileTypes: true }).catch(() => [])) {
    const sessionId = entry.isDirectory() ? sessionIdOfWorkspace(entry.name) : undefined;
    if (!sessionId) continue;
    const path = join(base, entry.name);
    try {
      // Only records whose worker is dead: a live worker sharing this base path is running that task.
      const reaped = await reapRecordedAgent(path, { onlyIfWorkerGone: true });
      if (reaped) log(`killed ${reaped} process(es) a dead worker's task left in ${path}`);
      if (await isKept(path)) continue;
      if ((await sessionState(workflowService, namespace, sessionId)) !== 'ended') continue;
      if (!(await stat(path).catch(() => undefined))) continue;
      const killed = killProcessesIn(path);
      const removed = await workspace.remove({ session_id: sessionId, workspace_path: path, managed: true });
      if (removed.deleted) {
        log(
          `removed the workspace ${path} of ended session ${sessionId}` +
            (killed ? ` and ${killed} process(es) in it` : '') +
            (removed.saved_to ? `; its unsaved work is in ${removed.saved_to}` : ''),
        );
      }
    } catch (err) {
      log(`could not sweep ${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
}
