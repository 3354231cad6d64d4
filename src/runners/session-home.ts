// Where one coding session's agent CLI keeps its state (settings, conversations): a directory of its own under the
// worker's state dir, so one session's agent never sees another's conversations (its sandbox room holds only this
// one) and resume survives a worker restart.
import { createHash } from 'node:crypto';
import path from 'node:path';

/** The state directory of `sessionId` under `dir` (delete it when the session is closed for good). */
export function sessionHome(dir: string, sessionId: string): string {
  const safe = sessionId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 100) || 'default';
  // The hash keeps two ids that sanitize alike apart.
  const hash = createHash('sha256').update(sessionId).digest('hex').slice(0, 8);
  return path.resolve(dir, `${safe}-${hash}`);
}
