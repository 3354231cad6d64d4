// Which OpenCode binary to run (both OpenCode runners): a configured path or name, else the binary of the
// installed opencode-ai package, else plain "opencode" on PATH.
import { packageBin, resolveBinary } from '../../process/binaries.js';

/** The opencode binary of the installed opencode-ai package, else plain "opencode" (found on PATH). */
export function defaultOpenCodeBinary(): string {
  return packageBin('opencode-ai', 'opencode') ?? 'opencode';
}

/**
 * The binary to run for `configured` (a path, or a name looked up on PATH). The bare name "opencode"
 * that is not on PATH falls back to the binary of the installed opencode-ai package.
 */
export function resolveOpenCodeBinary(configured: string | undefined): string {
  return resolveBinary(configured, 'opencode', 'opencode-ai');
}
