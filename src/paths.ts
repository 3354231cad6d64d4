import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where station-coding keeps its own state (embedded Temporal database, OpenCode homes, downloaded tools). */
export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.STATION_STATE_DIR) return env.STATION_STATE_DIR;
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'station-coding');
}
