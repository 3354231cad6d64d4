// The one retry loop: calls `fn` until it succeeds, `attempts` times at most, waiting with exponential backoff.
import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  attempts: number;
  /** Wait before the second attempt; doubled for each later one, up to maxDelayMs. */
  firstDelayMs: number;
  maxDelayMs?: number;
  /** A failure this says is final is thrown at once. */
  isFinal?: (err: unknown) => boolean;
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= options.attempts || options.isFinal?.(err)) throw err;
      await sleep(Math.min(options.maxDelayMs ?? Infinity, options.firstDelayMs * 2 ** (attempt - 1)));
    }
  }
}
