// A managed workspace its session kept on purpose (cleanup_policy manual, or on_success after a failure) is marked
// in its .git directory. A re-open of the same session id re-attaches it instead of starting over, and the sweep
// at worker start never removes it: only the user deletes a kept workspace.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

function markerPath(workspace: string): string {
  return join(workspace, '.git', 'station', 'kept');
}

export async function markKept(workspace: string, sessionId: string): Promise<void> {
  await mkdir(join(workspace, '.git', 'station'), { recursive: true });
  await writeFile(markerPath(workspace), `kept when session ${sessionId} closed, ${new Date().toISOString()}\n`);
}

export async function isKept(workspace: string): Promise<boolean> {
  return (await stat(markerPath(workspace)).catch(() => undefined)) !== undefined;
}
