// Errors a backend raises on purpose. The activities turn them into Temporal failures:
// `retryable: false` means retrying cannot help (bad input, missing binary, auth, max turns) and the
// message says what to do; anything else thrown is treated as an infrastructure failure and retried.

export type ErrorKind =
  | 'invalid_input'
  | 'not_found'
  | 'auth'
  | 'conflict'
  | 'binary_missing'
  | 'provider'
  | 'timeout'
  | 'cancelled'
  | 'unavailable'
  | 'git';

export class CodingError extends Error {
  override name = 'CodingError';
  constructor(
    message: string,
    readonly kind: ErrorKind,
    readonly retryable = false,
  ) {
    super(message);
  }
}
