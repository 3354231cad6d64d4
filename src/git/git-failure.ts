// What a failed git command tells its caller: one line they can act on, of a kind the workflow understands
// (auth, not_found, conflict, unavailable, ...), with every configured token removed in every form.
import { CodingError } from '../core/errors.js';
import { redact } from './credentials.js';
import { remoteHost, type GitCredentials } from './host-credentials.js';

export interface FailureContext {
  credentials: GitCredentials;
  /** The session's chosen token variable, if any. */
  token_env?: string;
  /** The branch asked for (clone --branch), to name it when the remote has none. */
  branch?: string;
  /** The URL the command talked to, to say which host refused and what to configure. */
  remote_url?: string;
}

export function gitFailure(err: unknown, action: string, ctx: FailureContext): CodingError {
  if (err instanceof CodingError) return err;
  const raw = redact(String((err as Error)?.message ?? err), ctx.credentials.secrets());
  const text = raw.toLowerCase();
  const firstLine = raw.split('\n').map((l) => l.replace(/^(fatal|error):\s*/, '').trim()).find(Boolean) ?? 'git failed';
  if (/abort/.test(text) && /signal/.test(text)) return new CodingError(`${action}: cancelled`, 'cancelled');
  if (/block timeout reached/.test(text)) return new CodingError(`${action}: git printed nothing for too long and was stopped (raise coding.git.timeout_sec)`, 'timeout', true);
  if (/authentication failed|could not read username|invalid username or password|http basic: access denied|returned error: (401|403)/.test(text)) {
    return new CodingError(`${action}: authentication failed: ${authHint(ctx)}`, 'auth');
  }
  if (/returned error: 30[1278]|redirect/.test(text)) {
    return new CodingError(
      `${action}: the server answered with a redirect, which git does not follow while it carries a token: give the final repository URL`,
      'invalid_input',
    );
  }
  if (ctx.branch && /remote branch .* not found/.test(text)) return new CodingError(`${action}: branch '${ctx.branch}' not found on the remote`, 'not_found');
  if (/repository .* not found|does not appear to be a git repository|returned error: 404/.test(text)) {
    return new CodingError(`${action}: repository not found`, 'not_found');
  }
  if (/\[rejected\]|non-fast-forward|fetch first|failed to push/.test(text)) {
    return new CodingError(`${action}: rejected by the remote (it has commits the workspace does not have; the branch may need a rebase or a new name)`, 'conflict');
  }
  if (/could not resolve host|connection refused|timed out|couldn't connect|failed to connect|unable to access/.test(text)) {
    return new CodingError(`${action}: remote unreachable: ${firstLine}`, 'unavailable', true);
  }
  return new CodingError(`${action}: ${firstLine}`, 'git');
}

/** Why a remote refused us: a wrong token, or no token configured for its host (and where to configure one). */
function authHint({ credentials, token_env, remote_url }: FailureContext): string {
  if (credentials.tokenFor(remote_url, token_env)) return 'the token was refused';
  const host = remoteHost(remote_url)?.host;
  if (!host) return 'no token is sent over this transport (git tokens go over http(s) only)';
  if (credentials.hasHost(remote_url)) return `no token for ${host} is set (check credentials.token_env and the worker's environment)`;
  return `no token is configured for host ${host} (the worker's owner can add {host: ${host}, token_env: <VAR>} to coding.git.credentials)`;
}
