// How a git token reaches git without ever being written down: an `http.<origin>/.extraHeader` set through
// GIT_CONFIG_* environment variables of the one git process that needs it. It is not in process arguments,
// not in .git/config, not in the remote URL, and only sent to the session repository's own host.

/** The environment variables that carry the header; simple-git must be told to let them through. */
export const GIT_AUTH_ENV_KEYS = ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0', 'GIT_CONFIG_KEY_1', 'GIT_CONFIG_VALUE_1', 'GIT_TERMINAL_PROMPT'];

/** scheme://host[:port]/ of an http(s) URL, or undefined for other transports. */
export function httpOrigin(url: string | undefined): string | undefined {
  if (!url || !/^https?:\/\//i.test(url)) return undefined;
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/`;
  } catch {
    return undefined;
  }
}

/** Extra environment for a git command that talks to `remoteUrl`, authenticated as x-access-token:<token>. */
export function gitAuthEnv(remoteUrl: string | undefined, allowedOrigin: string | undefined, token: string | undefined): Record<string, string> {
  // Never prompt: a missing or wrong token must fail fast, not hang a worker.
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0' };
  const origin = httpOrigin(remoteUrl);
  if (!token || !origin || origin !== allowedOrigin) {
    // Still clear credential helpers so nothing stored on the host leaks into a session.
    return { ...env, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'credential.helper', GIT_CONFIG_VALUE_0: '' };
  }
  const basic = Buffer.from(`x-access-token:${token}`).toString('base64');
  return {
    ...env,
    GIT_CONFIG_COUNT: '2',
    GIT_CONFIG_KEY_0: 'credential.helper',
    GIT_CONFIG_VALUE_0: '',
    GIT_CONFIG_KEY_1: `http.${origin}.extraHeader`,
    GIT_CONFIG_VALUE_1: `Authorization: Basic ${basic}`,
  };
}

/** Remove every form of `secret` (plain, base64 of the basic-auth pair, URL-encoded) from `text`. */
export function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  const forms = [secret, encodeURIComponent(secret), Buffer.from(`x-access-token:${secret}`).toString('base64')];
  let out = text;
  for (const form of forms) if (form) out = out.split(form).join('***');
  return out;
}
