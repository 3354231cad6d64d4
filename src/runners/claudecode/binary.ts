// Which Claude Code binary to run, and the error that says how to install it when it cannot be started.
import { CodingError } from '../../core/errors.js';
import { resolveBinary } from '../../process/binaries.js';

/**
 * The binary for `configured` (a path, or a name looked up on PATH). The bare name "claude" that is not on
 * PATH falls back to the binary of the @anthropic-ai/claude-code dependency.
 */
export function resolveClaudeBinary(configured: string | undefined): string {
  return resolveBinary(configured, 'claude', '@anthropic-ai/claude-code');
}

export function binaryMissing(binary: string, error: NodeJS.ErrnoException): CodingError {
  return new CodingError(
    `cannot start the Claude Code CLI '${binary}' (${error.code ?? error.message}): install it with ` +
      '`npm install -g @anthropic-ai/claude-code` or set coding.claudecode.binary_path to its path',
    'binary_missing',
    false,
  );
}
