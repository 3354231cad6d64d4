// Which Gemini CLI binary to run, and the error that says how to install it when it cannot be started.
import { CodingError } from '../../core/errors.js';
import { resolveBinary } from '../../process/binaries.js';

/** The binary for `configured`; the bare name "gemini" not on PATH falls back to the @google/gemini-cli dependency. */
export function resolveGeminiBinary(configured: string | undefined): string {
  return resolveBinary(configured, 'gemini', '@google/gemini-cli');
}

export function binaryMissing(binary: string, error: NodeJS.ErrnoException): CodingError {
  return new CodingError(
    `cannot start the Gemini CLI '${binary}' (${error.code ?? error.message}): install it with ` +
      '`npm install -g @google/gemini-cli` or set coding.gemini.binary_path to its path',
    'binary_missing',
    false,
  );
}
