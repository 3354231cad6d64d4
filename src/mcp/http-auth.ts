// Who may call the tools over MCP's HTTP transport. Anyone who can reach the port could otherwise open sessions
// on the worker's repositories and spend its model budget, so a bearer token (from an environment variable) is
// required; only an explicit opt-out in the config serves without one, and only on loopback (the one address
// the server binds). The Host check against DNS rebinding is separate and always on (server.ts).
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError, type CodingConfig } from '../config.js';

/** Checks a request's Authorization header; undefined when the opt-out is in force. */
export type RequestCheck = ((req: IncomingMessage) => boolean) | undefined;

/** The check for this server, or a ConfigError that says how to give a token (or opt out). */
export function httpAuth(config: CodingConfig, env: NodeJS.ProcessEnv = process.env): RequestCheck {
  const { token_env, allow_unauthenticated_loopback } = config.mcp;
  const token = env[token_env];
  if (!token) {
    if (allow_unauthenticated_loopback) return undefined;
    throw new ConfigError(
      `MCP over HTTP needs a bearer token: set the environment variable ${token_env} (coding.mcp.token_env) and send "Authorization: Bearer <it>", or set coding.mcp.allow_unauthenticated_loopback: true to let every local user in`,
    );
  }
  // Digests of equal length, so the comparison takes the same time whatever was sent.
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    return !!match && timingSafeEqual(createHash('sha256').update(match[1]!.trim()).digest(), expected);
  };
}

/** The answer to a request without the right token (its body names the variable, never the token). */
export function refuse(res: ServerResponse, tokenEnv: string): void {
  res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="station-coding"' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: `unauthorized: send Authorization: Bearer <the value of ${tokenEnv}>` }, id: null }));
}
