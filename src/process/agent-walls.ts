// The sandbox of this worker's coding agents, decided once at start: which places hold the worker's secrets
// (and so are never shown to an agent), and whether bubblewrap can wall them off here. Said loudly when it cannot.
import { homedir, userInfo } from 'node:os';
import type { CodingConfig } from '../config.js';
import { configPath } from '../config.js';
import { stateDir } from '../paths.js';
import { Sandbox } from './sandbox.js';

/** The places an agent must not see: the worker's HOME, config file, state directory, NATS credentials, every workspace root, /tmp. */
export function hiddenPlaces(config: CodingConfig, env: NodeJS.ProcessEnv): string[] {
  return [
    env.HOME || homedir(),
    homedir(),
    passwdHome(),
    configPath(env.STATION_CONFIG).path,
    stateDir(env),
    config.nats.creds_file ?? '',
    // Other sessions' workspaces: an agent gets its own back as a room.
    config.workspace_base_path,
    ...(config.allowed_workspace_roots ?? []),
    // Shared scratch space (other processes' files, agent sockets): each agent gets an empty one of its own.
    '/tmp',
    '/var/tmp',
    '/dev/shm',
  ];
}

/** The sandbox for this worker's agents; logs at start what it is, and a warning when there is none. */
export function agentSandbox(config: CodingConfig, env: NodeJS.ProcessEnv = process.env, log: (line: string) => void = console.error): Sandbox {
  const sandbox = Sandbox.detect(config.sandbox, hiddenPlaces(config, env));
  log(sandbox.walled ? `station-coding: ${sandbox.describe()}` : `station-coding: WARNING: ${sandbox.describe()}. See docs/sandbox.md.`);
  return sandbox;
}

/** The worker user's HOME from the password database ($HOME may have been pointed elsewhere). */
function passwdHome(): string {
  try {
    return userInfo().homedir;
  } catch {
    return '';
  }
}
