// HTTP to an OpenCode server: every failure becomes a CodingError that says which server and what to do,
// and the newest messages of a session are read page by page.
import type { OpencodeClient } from '@opencode-ai/sdk/v2';
import { CodingError } from '../../core/errors.js';
import { truncate } from '../../text.js';
import type { OcMessage } from './server-shapes.js';

/** Timeout of each ordinary HTTP call to the server (not of the task). */
export const CALL_TIMEOUT_MS = 30_000;

interface SdkResult {
  data?: unknown;
  error?: unknown;
  response?: Response;
}

/** The data of `fn`'s answer when it is a 2xx; otherwise the CodingError for `what` failing. */
export async function call(url: string, what: string, fn: () => Promise<SdkResult>): Promise<unknown> {
  return (await checked(url, what, fn)).data;
}

/** `fn`'s whole answer when it is a 2xx; otherwise the CodingError for `what` failing. */
async function checked(url: string, what: string, fn: () => Promise<SdkResult>): Promise<SdkResult> {
  let result: SdkResult;
  try {
    result = await fn();
  } catch (error) {
    throw unavailable(url, `${what}: ${errorText(error)}`);
  }
  const status = result.response?.status;
  if (status === undefined) throw unavailable(url, `${what}: ${errorText(result.error)}`);
  if (status >= 200 && status < 300) return result;
  throw httpError(url, what, status, result.error);
}

/**
 * The newest messages of a session, oldest first: pages of `pageSize` read backwards (the server answers
 * `limit` with the newest messages and an `x-next-cursor` for the older ones) until the page that holds
 * `untilId` (or anything older: ids sort by time) — or just one page when `untilId` is undefined. This
 * keeps long sessions from being listed whole on every look.
 */
export async function recentMessages(
  client: OpencodeClient,
  url: string,
  directory: string,
  sessionId: string,
  untilId: string | undefined,
  timeoutMs: number,
  pageSize = 100,
): Promise<OcMessage[]> {
  let collected: OcMessage[] = [];
  let before: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const result = await checked(url, 'list messages', () =>
      client.session.messages(
        { sessionID: sessionId, directory, limit: pageSize, ...(before ? { before } : {}) },
        { signal: AbortSignal.timeout(timeoutMs) },
      ),
    );
    const messages = Array.isArray(result.data) ? (result.data as OcMessage[]) : [];
    collected = [...messages, ...collected];
    if (untilId === undefined) break;
    if (messages.some((m) => typeof m.info?.id === 'string' && m.info.id <= untilId)) break;
    const next = result.response?.headers.get('x-next-cursor');
    if (!next || messages.length === 0) break;
    before = next;
  }
  return collected;
}

export function httpError(url: string, what: string, status: number, body: unknown): CodingError {
  const detail = errorText(body);
  if (status === 401 || status === 403) {
    return new CodingError(
      `OpenCode server at ${url} refused ${what} (HTTP ${status}): set the server password (coding.opencode.password / OPENCODE_SERVER_PASSWORD)`,
      'auth',
      false,
    );
  }
  if (status === 404) return new CodingError(`OpenCode server at ${url}: ${what}: ${detail || 'not found'}`, 'not_found', false);
  if (status >= 500) return unavailable(url, `${what}: HTTP ${status} ${detail}`);
  return new CodingError(`OpenCode server at ${url}: ${what} failed (HTTP ${status}): ${detail}`, 'invalid_input', false);
}

export function unavailable(url: string, detail: string): CodingError {
  return new CodingError(`OpenCode server at ${url} is unreachable or failing (${detail})`, 'unavailable', true);
}

export function errorText(error: unknown): string {
  if (error === undefined || error === null) return '';
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const causeText = cause instanceof Error ? cause.message : (cause as { code?: string } | undefined)?.code;
    return truncate(causeText && !error.message.includes(causeText) ? `${error.message}: ${causeText}` : error.message, 500);
  }
  if (typeof error === 'string') return truncate(error, 500);
  const named = error as { data?: { message?: string }; message?: string; name?: string };
  return truncate(named.data?.message ?? named.message ?? named.name ?? JSON.stringify(error), 500);
}
