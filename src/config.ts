// The `coding:` section of ~/.config/station/config.yaml: one zod schema that is also the documentation of
// every key (see `station-coding config --keys`), plus the loader (${VAR} expansion, path override) and masking.
import { existsSync, readFileSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { SANDBOX_MODES } from './process/sandbox.js';
import { TemporalConfig, applyTemporalSources } from './temporal-config.js';
import { BACKENDS, Check, CleanupPolicy, describeZodError } from './contract.js';

const positiveInt = () => z.number().int().positive();
const stringMap = () => z.record(z.string(), z.string());

const ClaudeCodeConfig = z
  .object({
    binary_path: z.string().default('claude').describe('Path or name of the claude CLI.'),
    timeout_sec: positiveInt().default(300).describe('Kill a task that runs longer than this.'),
    model: z.string().optional().describe('Model name passed to --model (sonnet, opus, haiku or a full name).'),
    max_turns: positiveInt().default(10).describe('Max agentic turns per task (--max-turns).'),
    allowed_tools: z.array(z.string()).optional().describe('Only these tools are offered to the model (--tools) and auto-approved.'),
    disallowed_tools: z.array(z.string()).default([]).describe('Tools removed from the model (--disallowedTools).'),
    home: z.string().optional().describe('HOME of the claude process (its login and session store). Default: the worker user’s HOME.'),
    env: stringMap().optional().describe('Extra environment for the claude process (e.g. ANTHROPIC_BASE_URL). Values are masked when printed.'),
  })
  .strict();

const OpenCodeConfig = z
  .object({
    url: z.string().url().optional().describe('OpenCode server URL. Without it the worker starts and manages its own `opencode serve` on 127.0.0.1.'),
    model: z.string().optional().describe('provider/model sent with every prompt, e.g. anthropic/claude-sonnet-4.'),
    password: z.string().optional().describe('Server password (basic auth); default $OPENCODE_SERVER_PASSWORD. Masked when printed.'),
    binary_path: z.string().default('opencode').describe('opencode binary used when the worker manages its own server.'),
    config: z.record(z.string(), z.unknown()).optional().describe('Extra OpenCode config (providers, ...) for servers the worker starts.'),
    env: stringMap().optional().describe('Extra environment (provider API keys) for OpenCode processes the worker starts. Masked when printed.'),
  })
  .strict();

const OpenCodeCliConfig = z
  .object({
    binary_path: z.string().default('opencode').describe('Path or name of the opencode binary.'),
    timeout_sec: positiveInt().default(300).describe('Kill a task that runs longer than this.'),
    model: z.string().optional().describe('provider/model for `opencode run -m` (default: coding.opencode.model).'),
  })
  .strict();

/** The shape every agent CLI added after OpenCode shares (codex, gemini, qwen); `config` is the CLI's own settings. */
const agentCliConfig = (cli: string, binary: string, settings: string) =>
  z
    .object({
      binary_path: z.string().default(binary).describe(`Path or name of the ${cli} binary.`),
      timeout_sec: positiveInt().default(300).describe('Kill a task that runs longer than this.'),
      model: z.string().optional().describe(`Model the ${cli} uses (its --model / model setting).`),
      config: z.record(z.string(), z.unknown()).optional().describe(`${cli}'s own settings for this worker's sessions: ${settings}`),
      env: stringMap().optional().describe(`Extra environment for the ${cli} process (provider endpoint and key). Values are masked when printed.`),
    })
    .strict();

const ModelPrice = z
  .object({
    input: z.number().nonnegative().describe('USD per million input tokens (not counting cache reads).'),
    output: z.number().nonnegative().describe('USD per million output tokens (reasoning tokens included).'),
    cache_read: z.number().nonnegative().optional().describe('USD per million tokens read from the prompt cache (default: input).'),
    cache_write: z.number().nonnegative().optional().describe('USD per million tokens written to the prompt cache (default: input).'),
  })
  .strict();

const NatsSubject = z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a NATS subject of letters, digits, _ and - tokens (no wildcards)');
const NatsBucket = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be a JetStream bucket name (letters, digits, _ and -)');

const NatsAgentConfig = z
  .object({
    id: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, _ or -')
      .optional()
      .describe('Identity of this coding agent (`nats-agent`): its sessions are routed to <subjects.task>.<id>. Default: the host name. Must be unique and stable across restarts.'),
    backend: z
      .enum(['claudecode', 'opencode', 'opencode-cli', 'codex', 'gemini', 'qwen', 'copilot'])
      .default('claudecode')
      .describe('Local backend the agent codes with (configured by coding.claudecode / coding.opencode / coding.cli / coding.codex / coding.gemini / coding.qwen / coding.copilot). Its workspaces go under coding.workspace_base_path.'),
    concurrency: positiveInt().max(64).default(2).describe('Tasks the agent runs at once; it takes new sessions only while a slot is free.'),
    allowed_token_envs: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/))
      .default([])
      .describe(
        'Environment variables a task may name as its git token (credentials.token_env), besides coding.git.token_env and coding.git.credentials; each is sent to coding.git.host only. Others are refused, so a message cannot send any other variable of the agent to a git host.',
      ),
  })
  .strict();

const NatsConfig = z
  .object({
    url: z.string().default('nats://localhost:4222').describe('NATS server URL (comma-separated for several servers). Used by the nats (opencode-nats) backend and by nats-agent.'),
    creds_file: z.string().optional().describe('NATS credentials file (user JWT and seed), read at connect; never logged or sent.'),
    subjects: z
      .object({
        task: NatsSubject.default('station.coding.task').describe('Tasks (JetStream work queue): new sessions on this subject, a session’s later operations on <task>.<agent id>.'),
        stream: NatsSubject.default('station.coding.stream').describe('Live progress of a task on <stream>.<taskID>; cancel requests on <stream>.cancel.<taskID>.'),
        result: NatsSubject.default('station.coding.result').describe('Results on <result>.<taskID> (unless the task names a callback); error replies to unreadable messages on <result>.rejected.'),
      })
      .strict()
      .prefault({}),
    kv: z
      .object({
        sessions: NatsBucket.default('coding-sessions').describe('KV bucket: which agent holds each session, its workspace and backend session id (session.<id>).'),
        state: NatsBucket.default('coding-state').describe('KV bucket: claim and result of every task, keyed by task id (task.<taskID>); answers redelivered tasks and retries.'),
        agents: NatsBucket.default('coding-agents').describe('KV bucket of agent liveness: agent.<id>, refreshed while the agent runs, expires agent_timeout_sec after it stops.'),
      })
      .strict()
      .prefault({}),
    object_store: NatsBucket.default('coding-artifacts').describe('Object store for large artifacts: the full diff of each code task, results too large for a message.'),
    agent_timeout_sec: z
      .number()
      .min(2)
      .max(120)
      .default(10)
      .describe('An agent silent this long is lost: its running task fails with "agent lost", and a task queued for an agent not alive this long fails at once. The agent refreshes its liveness key every agent_timeout_sec / 4.'),
    open_wait_sec: z
      .number()
      .min(1)
      .max(3600)
      .default(15)
      .describe(
        'An open waits this long for a coding agent to be alive (agents that are alive but busy are waited for); with none alive it fails with "no coding agent alive on <subject>" and is withdrawn from the queue.',
      ),
    max_message_kb: positiveInt().max(1024).default(512).describe('Largest task message an agent accepts; bigger ones are answered with a too_large error. The server’s max_payload (1 MB by default) is the hard limit.'),
    agent: NatsAgentConfig.prefault({}),
  })
  .strict();

/** host or host:port, as in a URL (no scheme, no path). */
const GitHost = z
  .string()
  .regex(/^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:\d{1,5})?$/, 'must be a host name or host:port, e.g. github.com or 127.0.0.1:8123 (no scheme, no path)');
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, 'must be an environment variable name');

const Forge = z.enum(['github', 'gitlab', 'gitea']);
const ForgeApiUrl = z.string().regex(/^https?:\/\/[^/\s]+(\/\S*)?$/, 'must be an http(s) URL (the forge API base, e.g. https://ghe.example.com/api/v3)');

const GitCredential = z
  .object({
    host: GitHost.describe('The git host (host or host:port) this token is sent to; no other host ever gets it.'),
    token_env: EnvName.describe('Environment variable of the worker holding the token for this host.'),
    forge: Forge.optional().describe('The forge this host runs, for coding_pr (default: github for github.com, gitlab for gitlab.com).'),
    api_url: ForgeApiUrl.optional().describe('Its REST API base URL, where it is not the default (https://api.github.com, https://<host>/api/v4, https://<host>/api/v1).'),
  })
  .strict();

const GitConfig = z
  .object({
    host: GitHost.default('github.com').describe(
      'The host that coding.git.token_env / coding.git.token (and coding.nats.agent.allowed_token_envs) are for. A clone, fetch or push to any other host goes without them.',
    ),
    token_env: EnvName.optional().describe('Environment variable of the worker holding the git token for coding.git.host (recommended).'),
    token: z.string().optional().describe('The git token for coding.git.host itself, usually as ${VAR}. Masked when printed.'),
    forge: Forge.optional().describe('The forge coding.git.host runs, for coding_pr (default: github for github.com, gitlab for gitlab.com).'),
    api_url: ForgeApiUrl.optional().describe('Its REST API base URL, where it is not the default (https://api.github.com, https://<host>/api/v4, https://<host>/api/v1).'),
    credentials: z
      .array(GitCredential)
      .default([])
      .describe(
        'Tokens for more hosts, as a list of {host, token_env}. A session may choose one by credentials.token_env; only the variables named here or in token_env can be chosen, and each goes only to its own host (plain http only to 127.0.0.1/localhost). While a token is attached, git follows no redirect.',
      ),
    timeout_sec: positiveInt().default(120).describe('A local git command of the worker (commit, checkout, snapshot) that prints nothing for this long is killed.'),
    user_name: z.string().default('Station Bot').describe('Commit author name.'),
    user_email: z.string().default('bot@cloudship.ai').describe('Commit author email.'),
    clone_cache: z
      .boolean()
      .default(true)
      .describe(
        'Keep one mirror per repository on this host (fetched on every open) and clone sessions with --reference to it: opens download almost nothing and share its objects on disk.',
      ),
    clone_cache_dir: z.string().optional().describe('Where the mirrors are kept. Default: <workspace_base_path>/.clone-cache.'),
    clone_cache_keep_days: z
      .number()
      .positive()
      .default(14)
      .describe('At worker start, a mirror unused for this many days and referenced by no workspace is removed.'),
  })
  .strict();

const McpConfig = z
  .object({
    token_env: EnvName.default('STATION_MCP_TOKEN').describe(
      'Environment variable of `station-coding mcp --http` holding the bearer token every HTTP request must carry (Authorization: Bearer <token>). Without it the server does not start.',
    ),
    allow_unauthenticated_loopback: z
      .boolean()
      .default(false)
      .describe('Serve MCP over HTTP without a token. The server binds 127.0.0.1 only, but every local user (and every local process) can then call the tools.'),
  })
  .strict();

export const CodingConfig = z
  .object({
    backend: z.enum(BACKENDS).default('claudecode').describe('Default backend of new sessions.'),
    claudecode: ClaudeCodeConfig.prefault({}),
    opencode: OpenCodeConfig.prefault({}),
    cli: OpenCodeCliConfig.prefault({}),
    nats: NatsConfig.prefault({}),
    codex: agentCliConfig('Codex CLI', 'codex', 'Codex config keys, written into the session’s own CODEX_HOME/config.toml.').prefault({}),
    gemini: agentCliConfig('Gemini CLI', 'gemini', 'keys of its settings.json, merged into the session’s own settings file.').prefault({}),
    qwen: agentCliConfig('Qwen Code', 'qwen', 'keys of its settings.json, merged into the session’s own settings file.').prefault({}),
    // No `config`: the CLI's settings are its flags and COPILOT_* variables (coding.copilot.env).
    copilot: agentCliConfig('Copilot CLI', 'copilot', '').omit({ config: true }).prefault({}),
    pricing: z
      .record(z.string(), ModelPrice)
      .default({})
      .describe(
        'Prices per model name, for backends whose CLI reports tokens but no cost (codex, gemini, qwen, copilot): a task’s cost is computed from its tokens, so budgets hold for every backend. A model not listed costs 0 and its task span says cost.source=unpriced.',
      ),
    checks: z
      .array(
        Check.extend({
          repo: z.string().min(1).optional().describe('Only for sessions whose repo_url contains this text (e.g. github.com/org/app); default every session.'),
        }),
      )
      .default([])
      .describe('Commands that say whether a workspace is good (name, run, timeout_sec), run after tasks that ask for checks and by the check update. A session that names its own (coding_open checks) uses those instead.'),
    check_output_bytes: positiveInt().max(32_000).default(4000).describe('How much of the end of a check\'s output its result keeps.'),
    max_attempts: positiveInt().default(3).describe('Attempts of each activity before the operation fails.'),
    worker_lost_after_sec: z
      .number()
      .positive()
      .default(60)
      .describe(
        'An operation that the worker holding the workspace has not picked up after this long (counted from when the operation is due) moves the session to another worker when coding.checkpoint.dir is set; without it the operation fails, naming that worker (the workspace and its unpushed work are on that host), and coding_close then ends the session without waiting for it.',
      ),
    checkpoint: z
      .object({
        dir: z
          .string()
          .refine((p) => p.startsWith('/'), 'must be an absolute path')
          .optional()
          .describe(
            'A directory every worker mounts (NFS, a shared volume): after each open, code, commit and branch the worker writes the session’s checkpoint there (a git bundle of the commits not on the origin and the uncommitted changes). With it, a session whose worker is lost longer than worker_lost_after_sec moves to another worker, which re-creates the workspace from the origin and the checkpoint. Without it, the operation fails naming the lost worker.',
          ),
      })
      .strict()
      .prefault({}),
    task_timeout_min: z.number().positive().default(10).describe('A code task running longer is stopped (process tree killed) and reported as failed; also caps the backend timeouts.'),
    clone_timeout_sec: positiveInt().default(300).describe('Kill a clone that takes longer.'),
    push_timeout_sec: positiveInt().default(120).describe('Kill a push that takes longer.'),
    workspace_base_path: z.string().default('/tmp/station-coding').describe('Where managed workspaces are created.'),
    allowed_workspace_roots: z
      .array(z.string().refine((p) => p.startsWith('/'), 'must be an absolute path'))
      .optional()
      .describe(
        'Directories a workspace_path given to coding_open must be inside (symlinks resolved). Default: coding.workspace_base_path only. `/`, the worker’s HOME, its state directory and the base path itself are refused whatever this says.',
      ),
    sandbox: z
      .enum(SANDBOX_MODES)
      .default('auto')
      .describe(
        'Walls around every coding agent process (see docs/sandbox.md): bwrap = bubblewrap, own PID namespace, read-only root, the worker’s HOME, config file, state directory, other workspaces and /tmp hidden, only the workspace and the agent’s own state writable (the worker refuses to start if bwrap cannot run); auto = bwrap where it works, else none with a warning at start; none = the agent runs as the worker’s user and can read its secrets.',
      ),
    cleanup_policy: CleanupPolicy.default('on_session_end'),
    max_cost_usd: z.number().positive().optional().describe('Budget of one session in USD: a task that would start over it is refused, a running task that crosses it is stopped.'),
    max_tokens: z.number().int().positive().optional().describe('Token budget of one session (input, output, reasoning and cache tokens together), enforced like max_cost_usd.'),
    max_concurrent_tasks: positiveInt()
      .optional()
      .describe(
        'Code tasks this worker runs at once (local backends); more wait in line, shown by `status` (waiting_for_slot). Default: the number of cores, but no more than free memory at start holds at 1.5 GB per task.',
      ),
    idle_timeout_min: z.number().positive().default(60).describe('An agent-scope session with no operation for this long is closed (cleanup applies).'),
    approval_timeout_hours: z
      .number()
      .positive()
      .default(168)
      .describe(
        'A session waiting for a review decision (require_approval) this long, counted from the latest request (a fix after a rejection asks again), is closed with reason approval_timeout; unpushed work is saved as on every close. The idle timeout does not run while a session waits.',
      ),
    git: GitConfig.prefault({}),
    mcp: McpConfig.prefault({}),
    temporal: TemporalConfig.prefault({}),
  })
  .strict();
export type CodingConfig = z.output<typeof CodingConfig>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** The config file path: --config, else $STATION_CONFIG, else $XDG_CONFIG_HOME/station/config.yaml. */
export function configPath(explicit?: string): { path: string; explicit: boolean } {
  if (explicit) return { path: explicit, explicit: true };
  if (process.env.STATION_CONFIG) return { path: process.env.STATION_CONFIG, explicit: true };
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return { path: join(base, 'station', 'config.yaml'), explicit: false };
}

/**
 * Replace ${VAR} and ${VAR:-default} in every string of `value`. Unset variables become ''. `$${` is a literal
 * `${` (for a value that must contain one).
 */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g, (match, name?: string, fallback?: string) => {
      if (name === undefined) return '${';
      const v = env[name];
      return v !== undefined && v !== '' ? v : (fallback ?? '');
    });
  }
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, expandEnv(v, env)]));
  }
  return value;
}

/**
 * Strings that expanded to '' count as not set: `token: ${UNSET}` means "no token", and a list item
 * `- ${UNSET}` is no item (not an empty one, which would become e.g. `--tools=`, no tools at all).
 */
function dropEmptyStrings(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== '').map(dropEmptyStrings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([, v]) => v !== '')
        .map(([k, v]) => [k, dropEmptyStrings(v)]),
    );
  }
  return value;
}

/** Validate the raw `coding:` section (already parsed YAML). Errors name the key path, e.g. `coding.claudecode.max_turns`. */
export function parseCodingConfig(raw: unknown, env: NodeJS.ProcessEnv = process.env): CodingConfig {
  const parsed = CodingConfig.safeParse(dropEmptyStrings(expandEnv(raw ?? {}, env)));
  if (!parsed.success) throw new ConfigError(`invalid config: ${describeZodError(parsed.error, 'coding')}`);
  return parsed.data;
}

/** Load the config file (missing default file = all defaults) and apply the environment overrides. */
export function loadConfig(explicitPath?: string, env: NodeJS.ProcessEnv = process.env): { config: CodingConfig; path: string; found: boolean } {
  const { path, explicit } = configPath(explicitPath);
  let raw: unknown = {};
  const found = existsSync(path);
  if (!found && explicit) throw new ConfigError(`config file not found: ${path}`);
  if (found) {
    let doc: unknown;
    try {
      doc = YAML.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    if (doc !== null && doc !== undefined && (typeof doc !== 'object' || Array.isArray(doc))) {
      throw new ConfigError(`config file ${path}: expected a mapping with a 'coding:' section`);
    }
    // Other top-level sections belong to the rest of Station and are left alone.
    raw = (doc as Record<string, unknown> | null)?.coding ?? {};
  }
  const config = parseCodingConfig(raw, env);
  const temporalRaw = (dropEmptyStrings(expandEnv(raw, env)) as { temporal?: Record<string, unknown> } | null)?.temporal ?? {};
  try {
    applyTemporalSources(config.temporal, Object.keys(temporalRaw), env);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (env.STATION_WORKER_ID) {
    if (!/^[A-Za-z0-9._-]+$/.test(env.STATION_WORKER_ID)) throw new ConfigError('STATION_WORKER_ID: must be letters, digits, ".", "_" or "-" (e.g. the pod name of a StatefulSet)');
    config.temporal.worker_id = env.STATION_WORKER_ID;
  }
  return { config, path, found };
}

export function workerId(config: CodingConfig): string {
  return config.temporal.worker_id ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-');
}

/** The task queue of activities on workspaces held by this host. */
export function hostTaskQueue(config: CodingConfig): string {
  return `${config.temporal.task_queue}@${workerId(config)}`;
}

const MASK = '***';

/**
 * Keys whose value is a secret: any key naming a key, token, secret, password, credential or auth header, at any
 * depth (OpenCode provider options.apiKey, headers.Authorization, ...). Keys that only name a variable or a
 * host (token_env, allowed_token_envs, host) and numbers (max_tokens) are not secrets and stay readable.
 */
const SECRET_KEY = /(key|token|secret|passw|credential|auth|cookie|private)/i;
const NOT_A_SECRET = /(_envs?|^host)$/i;

/** A copy of the config safe to print: every value under a secret-naming key and every env value is ***. */
export function maskConfig(config: CodingConfig): CodingConfig {
  const copy = structuredClone(config);
  copy.nats.url = maskUrlCredentials(copy.nats.url);
  for (const section of [copy.claudecode, copy.opencode, copy.codex]) {
    if (section.env) section.env = Object.fromEntries(Object.keys(section.env).map((k) => [k, MASK]));
  }
  return maskSecrets(copy) as CodingConfig;
}

/** `value` with every string or number under a secret-naming key replaced by ***, at any depth. */
export function maskSecrets(value: unknown, secret = false): unknown {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v, secret));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        if (NOT_A_SECRET.test(k)) return [k, v];
        return [k, maskSecrets(v, secret || (SECRET_KEY.test(k) && typeof v !== 'number'))];
      }),
    );
  }
  return secret && (typeof value === 'string' || typeof value === 'number') ? MASK : value;
}

/** nats://user:password@host → nats://***@host (user names and passwords in server URLs are secrets too). */
export function maskUrlCredentials(url: string): string {
  return url.replace(/(\/\/)[^@/,]*@/g, `$1${MASK}@`);
}

/** Every key with its description and default, for `station-coding config --keys` and docs/configuration.md (`npm run docs`). */
export function describeKeys(): Array<{ key: string; description: string; default?: unknown }> {
  const json = z.toJSONSchema(CodingConfig, { io: 'input' }) as JsonSchema;
  const rows: Array<{ key: string; description: string; default?: unknown }> = [];
  const walk = (schema: JsonSchema, path: string) => {
    if (schema.properties) {
      for (const [key, child] of Object.entries(schema.properties)) walk(child, `${path}.${key}`);
      return;
    }
    rows.push({ key: path, description: schema.description ?? '', default: schema.default });
  };
  walk(json, 'coding');
  return rows;
}
interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  description?: string;
  default?: unknown;
}
