// Which token may go to which git host. The worker's owner names the pairs in the config
// (coding.git.credentials, and coding.git.token_env / token for coding.git.host); nothing a caller sends (a
// repo_url, a workspace's origin, a push remote) can add a host. A remote on any other host gets no token.
import type { CodingConfig } from '../config.js';
import { CodingError } from '../core/errors.js';

export type ForgeKind = 'github' | 'gitlab' | 'gitea';

interface Entry {
  host: string;
  forge?: ForgeKind;
  api_url?: string;
  /** The variable holding the token, or undefined for coding.git.token given in the config itself. */
  token_env?: string;
  token?: string;
}

/** Hosts a token may travel to over plain http (the traffic never leaves the machine). */
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/;

/** A host (host or host:port) on this machine: the only place a token may go over plain http. */
export const isLoopback = (host: string): boolean => LOOPBACK.test(host);

export class GitCredentials {
  private constructor(
    private readonly entries: Entry[],
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static fromConfig(config: CodingConfig, env: NodeJS.ProcessEnv = process.env): GitCredentials {
    const { git } = config;
    const defaultHost = normalizeHost(git.host);
    const entries: Entry[] = git.credentials.map((c) => ({ host: normalizeHost(c.host), token_env: c.token_env, forge: c.forge, api_url: c.api_url }));
    // The shorthands all mean "for coding.git.host"; a coding agent's extra names (allowed_token_envs) too.
    const forge = { forge: git.forge, api_url: git.api_url };
    if (git.token_env) entries.push({ host: defaultHost, token_env: git.token_env, ...forge });
    for (const name of config.nats.agent.allowed_token_envs) entries.push({ host: defaultHost, token_env: name, ...forge });
    if (git.token) entries.push({ host: defaultHost, token: git.token, ...forge });
    if (!entries.some((e) => e.host === defaultHost) && git.forge) entries.push({ host: defaultHost, ...forge });
    return new GitCredentials(entries, env);
  }

  /**
   * A session's `credentials.token_env` must be a configured variable, and set: a caller must not be able to
   * send any other variable of the worker (a cloud key, say) to a git host as a password.
   */
  check(tokenEnv: string | undefined): void {
    if (!tokenEnv) return;
    if (!this.entries.some((e) => e.token_env === tokenEnv)) {
      throw new CodingError(
        `credentials.token_env: ${tokenEnv} is not a configured git token variable (the worker's owner lists them in coding.git.credentials as {host, token_env})`,
        'invalid_input',
      );
    }
    if (!this.env[tokenEnv]) throw new CodingError(`credentials.token_env: ${tokenEnv} is not set in the environment of this worker`, 'invalid_input');
  }

  /**
   * The token to send to the host of `remoteUrl`, or undefined: only an http(s) URL whose host is configured gets
   * one (plain http only on loopback). A session that chose a variable gets that one, if it is for this host.
   */
  tokenFor(remoteUrl: string | undefined, tokenEnv?: string): string | undefined {
    const target = remoteHost(remoteUrl);
    if (!target) return undefined;
    if (target.scheme === 'http:' && !isLoopback(target.host)) return undefined;
    const candidates = this.entries.filter((e) => e.host === target.host && (!tokenEnv || e.token_env === tokenEnv));
    for (const entry of candidates) {
      const value = entry.token_env ? this.env[entry.token_env] : entry.token;
      if (value) return value;
    }
    return undefined;
  }

  /**
   * The forge of `remoteUrl`'s host and its API base, for coding_pr: as configured for the host, else known by name
   * (github.com, gitlab.com); undefined for a host nobody said is a forge.
   */
  forgeFor(remoteUrl: string | undefined): { forge: ForgeKind; api_url: string } | undefined {
    const target = remoteHost(remoteUrl);
    if (!target) return undefined;
    const configured = this.entries.find((e) => e.host === target.host && e.forge);
    const forge = configured?.forge ?? (target.host === 'github.com' ? 'github' : target.host === 'gitlab.com' ? 'gitlab' : undefined);
    if (!forge) return undefined;
    const site = `${target.scheme}//${target.host}`;
    const api_url = configured?.api_url ?? (forge === 'github' ? (target.host === 'github.com' ? 'https://api.github.com' : `${site}/api/v3`) : forge === 'gitlab' ? `${site}/api/v4` : `${site}/api/v1`);
    return { forge, api_url: api_url.replace(/\/+$/, '') };
  }

  /** Whether any token is configured for the host of `remoteUrl` (for the message of a refused clone or push). */
  hasHost(remoteUrl: string | undefined): boolean {
    const target = remoteHost(remoteUrl);
    return !!target && this.entries.some((e) => e.host === target.host);
  }

  /** Every configured token's value, for redaction of anything that leaves the worker. */
  secrets(): string[] {
    return this.entries.map((e) => (e.token_env ? this.env[e.token_env] : e.token)).filter((v): v is string => !!v);
  }
}

/** host[:port] of an http(s) URL, lower-case (a default port is dropped), with its scheme. */
export function remoteHost(url: string | undefined): { scheme: string; host: string } | undefined {
  if (!url || !/^https?:\/\//i.test(url)) return undefined;
  try {
    const u = new URL(url);
    return { scheme: u.protocol, host: u.host.toLowerCase() };
  } catch {
    return undefined;
  }
}

function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/:443$/, '');
}
