// OpenCode's error objects (both OpenCode runners): their message, which of them a retry cannot fix, and
// the CodingError that reports a model provider's refusal.
import { CodingError } from '../../core/errors.js';

/** An OpenCode error object ({name, data:{message, statusCode, isRetryable, ...}}). */
export interface OpenCodeError {
  name?: string;
  data?: { message?: string; statusCode?: number; isRetryable?: boolean; providerID?: string; [k: string]: unknown };
  message?: string;
}

export function openCodeErrorMessage(error: OpenCodeError | undefined): string {
  if (!error) return 'unknown OpenCode error';
  const message = error.data?.message ?? error.message ?? error.name ?? 'unknown OpenCode error';
  const status = error.data?.statusCode;
  return status ? `${message} (HTTP ${status})` : String(message);
}

/** Errors of the model provider (auth, 4xx, exhausted retries): retrying the task cannot help. */
export function isProviderError(error: OpenCodeError | undefined): boolean {
  return error?.name === 'ProviderAuthError' || error?.name === 'APIError';
}

export function isAbortError(error: OpenCodeError | undefined): boolean {
  return error?.name === 'MessageAbortedError' || error?.name === 'AbortError';
}

/** The CodingError for a provider error: not retryable, the provider's own message first. */
export function providerError(error: OpenCodeError): CodingError {
  return new CodingError(`model provider error: ${openCodeErrorMessage(error)}`, 'provider', false);
}
