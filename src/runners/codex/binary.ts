// Which Codex binary to run, and the error that says how to install it when it cannot be started.
import { CodingError } from '../../core/errors.js';
import { resolveBinary } from '../../process/binaries.js';

/** The binary for `configured` (a path, or a name on PATH); the bare name "codex" not on PATH falls back to the @openai/codex dependency. */
export function resolveCodexBinary(configured: string | undefined): string {
  return resolveBinary(configured, 'codex', '@openai/codex');
}

export function binaryMissing(binary: string, error: NodeJS.ErrnoException): CodingError {
  return new CodingError(
    `cannot start the Codex CLI '${binary}' (${error.code ?? error.message}): install it with ` +
      '`npm install -g @openai/codex` or set coding.codex.binary_path to its path',
    'binary_missing',
    false,
  );
}
