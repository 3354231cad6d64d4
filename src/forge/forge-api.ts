// One forge's REST API as coding_pr uses it: JSON over fetch with the host's token, to the configured API base
// only. A redirect is an error (it would carry the token elsewhere), plain http only to the machine itself, and
// every failure is a CodingError whose kind a caller can act on, with the token cut out.
import { CodingError, type ErrorKind } from '../core/errors.js';
import { redact } from '../git/credentials.js';
import { isLoopback } from '../git/host-credentials.js';

const TIMEOUT_MS = 30_000;

export class ForgeApi {
  constructor(
    private readonly base: string,
    private readonly headers: Record<string, string>,
    private readonly token: string,
    private readonly signal: AbortSignal,
  ) {
    const url = new URL(base);
    if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
      throw new CodingError(`the forge API ${base} is plain http: a token goes only over https (or to 127.0.0.1)`, 'invalid_input');
    }
  }

  async request<T>(method: 'GET' | 'POST' | 'PATCH' | 'PUT', path: string, body?: unknown): Promise<T> {
    const url = `${this.base}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: { ...this.headers, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        redirect: 'error',
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(TIMEOUT_MS)]),
      });
    } catch (err) {
      if (this.signal.aborted) throw err;
      if (/redirect/i.test(String((err as { cause?: { message?: unknown } }).cause?.message ?? ''))) {
        throw new CodingError(
          `the forge API answered ${method} ${this.base}${path} with a redirect, which is never followed with a token: set the host's api_url (coding.git.credentials) to the address it redirects to`,
          'invalid_input',
        );
      }
      throw new CodingError(`the forge API did not answer ${method} ${this.base}${path}: ${this.clean((err as Error).message)}`, 'unavailable', true);
    }
    const text = await response.text();
    if (!response.ok) throw this.failure(method, path, response.status, text);
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new CodingError(`the forge API answered ${method} ${path} with something other than JSON`, 'unavailable', true);
    }
  }

  private failure(method: string, path: string, status: number, text: string): CodingError {
    let message = text.slice(0, 500);
    try {
      const parsed = JSON.parse(text) as { message?: unknown; error?: unknown; errors?: unknown };
      message = [parsed.message, parsed.error, parsed.errors].filter((m) => m !== undefined).map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join('; ') || message;
    } catch {
      // not JSON: the start of the text
    }
    const kind: ErrorKind = status === 401 || status === 403 ? 'auth' : status === 404 ? 'not_found' : status === 409 || status === 422 ? 'conflict' : 'unavailable';
    const hint = kind === 'auth' ? ' (check the token configured for this host: coding.git.credentials or coding.git.token_env)' : '';
    return new CodingError(`the forge refused ${method} ${path}: HTTP ${status}: ${this.clean(message)}${hint}`, kind, kind === 'unavailable');
  }

  private clean(text: string): string {
    return redact(text, this.token);
  }
}
