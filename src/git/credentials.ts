// How a git token reaches git without ever being written down: an `http.<origin>/.extraHeader` set through
// GIT_CONFIG_* environment variables of the one git process that needs it. It is not in process arguments,
// not in .git/config, not in the remote URL, and only sent to a host the worker's owner configured for it
// (host-credentials.ts).

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

/**
 * Extra environment for a git command that talks to `remoteUrl`. `token` is the one GitCredentials chose for
 * that URL's host (or undefined: the command goes without credentials). The rest of the hardening (no hooks,
 * helpers, fsmonitor) is in hardening.ts and applies to every git command.
 */
export function gitAuthEnv(remoteUrl: string | undefined, token: string | undefined): Record<string, string> {
  const origin = httpOrigin(remoteUrl);
  const settings: Array<[string, string]> = [['http.proxy', '']];
  if (token && origin) {
    // A redirect would take the header to wherever the server points: with a token, git stops at the first one.
    settings.push(['http.followRedirects', 'false']);
    settings.push([`http.${origin}.extraHeader`, `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString('base64')}`]);
  }
  // Never prompt: a missing or wrong token must fail fast, not hang a worker.
  const env: Record<string, string> = { GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_COUNT: String(settings.length) };
  settings.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key;
    env[`GIT_CONFIG_VALUE_${i}`] = value;
  });
  return env;
}

/**
 * Keys of a workspace's own git config that could send a request carrying the token elsewhere or run code
 * around it (a URL-specific proxy, an include of another file). The agent may have written them; a
 * token-bearing command refuses to run while they are there.
 */
export function riskyLocalConfigKeys(localConfig: string): string[] {
  return localConfig
    .split('\n')
    .map((line) => line.split('=')[0]!.trim().toLowerCase())
    .filter((key) => /^(http\.|include\.|includeif\.|core\.(gitproxy|sshcommand|askpass)$|url\..*\.(insteadof|pushinsteadof)$)/.test(key));
}

/** Remove every form of each secret (plain, base64 of the basic-auth pair, URL-encoded) from `text`. */
export function redact(text: string, secrets: string | string[] | undefined): string {
  let out = text;
  for (const secret of typeof secrets === 'string' ? [secrets] : (secrets ?? [])) {
    if (!secret) continue;
    const forms = [secret, encodeURIComponent(secret), Buffer.from(`x-access-token:${secret}`).toString('base64')];
    for (const form of forms) out = out.split(form).join('***');
  }
  return out;
}
