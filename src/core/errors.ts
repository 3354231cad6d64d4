// Errors a backend raises on purpose. The activities turn them into Temporal failures:
// `retryable: false` means retrying cannot help (bad input, missing binary, auth, max turns) and the
// message says what to do; anything else thrown is treated as an infrastructure failure and retried.

import type { FailureType } from '../contract.js';

/** The failure types a backend raises; the session workflow adds its own (session_closed, open_failed, budget_exhausted). */
export type ErrorKind = Exclude<FailureType, 'session_closed' | 'open_failed' | 'budget_exhausted'>;

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
