// The `station-coding` command line.
import { resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { InvalidInputError, type OpenInput, type ProgressEvent } from '../contract.js';
import { ConfigError, describeKeys, loadConfig, maskConfig, type CodingConfig } from '../config.js';
import { startTelemetry } from '../telemetry/setup.js';
import { createWorker } from '../worker.js';
import { CodingClientError } from './client.js';
import { connectCoding, type Connected } from './connect.js';
import { formatChecks, runDoctor } from './doctor.js';
import { stopEmbeddedServer } from './embedded-server.js';
import { formatReport } from './format.js';
import { runTask } from './run.js';
import { TemporalCliMissing } from './temporal-cli.js';

const USAGE = `station-coding: durable coding sessions on Temporal

Usage:
  station-coding run --repo <url-or-path> [--branch main] [--new-branch feature/x] [--push]
                     [--backend claudecode] [--tail] [--json] [--context TEXT] [--file PATH]... "<instruction>"
  station-coding worker                         run a long-lived worker against the configured cluster
  station-coding open   [--repo URL] [--branch B] [--workspace PATH] [--title T] [--scope agent|workflow]
                        [--scope-id ID] [--backend B] [--token-env VAR] [--cleanup-policy P] [--session-id ID]
  station-coding code   <session_id> "<instruction>" [--context TEXT] [--file PATH]... [--tail]
  station-coding branch <session_id> <branch> [--create]
  station-coding commit <session_id> "<message>" [--no-add-all]
  station-coding push   <session_id> [--remote origin] [--branch B] [--no-set-upstream]
  station-coding close  <session_id> [--failed]
  station-coding status <session_id>
  station-coding list   [--limit N]
  station-coding cancel <session_id> [--task N] cancel task N, else the task running (or the oldest queued)
  station-coding config [--keys]                print the effective config (secrets masked), or every key
  station-coding server stop                    stop the embedded Temporal dev server
  station-coding doctor                         check every backend on this host, with the fix for each problem
  station-coding nats-agent                     run a coding agent for backend opencode-nats (coding.nats.*; see README "NATS mode")
  station-coding mcp    [--http PORT]           serve the tools over MCP (stdio; streamable HTTP on 127.0.0.1:PORT/mcp)

Every tool command also takes --input '<json>' with the tool's JSON (as in the seed's Tools Reference).
Global options: --config <file> (else $STATION_CONFIG, else ~/.config/station/config.yaml), --verbose.
Temporal: $TEMPORAL_ADDRESS or coding.temporal.address; without one an embedded dev server is started.`;

type Options = NonNullable<ParseArgsConfig['options']>;
const GLOBAL: Options = {
  config: { type: 'string' },
  verbose: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  input: { type: 'string' },
};
const OPEN: Options = {
  repo: { type: 'string' },
  branch: { type: 'string' },
  workspace: { type: 'string' },
  title: { type: 'string' },
  scope: { type: 'string' },
  'scope-id': { type: 'string' },
  backend: { type: 'string' },
  'token-env': { type: 'string' },
  'cleanup-policy': { type: 'string' },
  'session-id': { type: 'string' },
};
const TASK: Options = { context: { type: 'string' }, file: { type: 'string', multiple: true }, tail: { type: 'boolean' } };
const COMMANDS: Record<string, Options> = {
  run: { ...OPEN, ...TASK, 'new-branch': { type: 'string' }, push: { type: 'boolean' }, message: { type: 'string' } },
  worker: {},
  open: OPEN,
  code: TASK,
  branch: { create: { type: 'boolean' } },
  commit: { 'no-add-all': { type: 'boolean' } },
  push: { remote: { type: 'string' }, branch: { type: 'string' }, 'no-set-upstream': { type: 'boolean' } },
  close: { failed: { type: 'boolean' } },
  status: {},
  list: { limit: { type: 'string' } },
  cancel: { task: { type: 'string' } },
  config: { keys: { type: 'boolean' } },
  server: {},
  doctor: {},
  'nats-agent': {},
  mcp: { http: { type: 'string' } },
};

type Values = Record<string, string | boolean | string[] | undefined>;

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const command = argv[0];
  if (!command || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const spec = COMMANDS[command];
  if (!spec) throw new UsageError(`unknown command '${command}' (see station-coding --help)`);
  let parsed;
  try {
    parsed = parseArgs({ args: argv.slice(1), options: { ...GLOBAL, ...spec }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Values;
  const args = parsed.positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  // A command's in-process worker stays quiet: its failures reach the user as the command's one-line error.
  Runtime.install({ logger: new DefaultLogger(values.verbose || command === 'worker' ? 'INFO' : 'ERROR') });
  const { config } = loadConfig(values.config as string | undefined);

  switch (command) {
    case 'config':
      if (values.keys) {
        for (const row of describeKeys()) console.log(`${row.key}${row.default !== undefined ? ` (default ${JSON.stringify(row.default)})` : ''}: ${row.description}`);
      } else {
        console.log(JSON.stringify(maskConfig(config), null, 2));
      }
      return 0;
    case 'server':
      if (args[0] !== 'stop') throw new UsageError('usage: station-coding server stop');
      console.log(stopEmbeddedServer() ? 'embedded Temporal server stopped' : 'no embedded Temporal server was running');
      return 0;
    case 'worker':
      return runWorker(config);
    case 'nats-agent':
      return runNatsAgent(config);
    case 'doctor': {
      const checks = await runDoctor(config);
      console.log(values.json ? JSON.stringify(checks, null, 2) : formatChecks(checks));
      // Only what this config needs decides the exit code: git, Temporal and the default backend.
      const needed = new Set(['git', 'temporal', config.backend]);
      return checks.some((c) => !c.ok && needed.has(c.name)) ? 1 : 0;
    }
    case 'mcp': {
      const port = values.http === undefined ? undefined : Number(values.http);
      if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new UsageError('--http needs a port number (0-65535)');
      const { serveMcp } = await import('../mcp/server.js');
      return serveMcp(config, { http: port });
    }
    case 'run':
      return withConnection(config, values, (c) => runCommand(c, values, args));
    default:
      return withConnection(config, values, (c) => toolCommand(c, command, values, args));
  }
}

async function withConnection(config: CodingConfig, values: Values, fn: (c: Connected) => Promise<number>): Promise<number> {
  const log = (line: string) => (values.verbose ? console.error(line) : undefined);
  const telemetry = startTelemetry('station-coding');
  const connected = await connectCoding(config, {
    tracing: telemetry.tracing,
    log: (line) => (values.verbose || /started the embedded/.test(line) ? console.error(line) : log(line)),
  });
  try {
    return await fn(connected);
  } finally {
    await connected.close();
    await telemetry.shutdown();
  }
}

async function runWorker(config: CodingConfig): Promise<number> {
  const address = config.temporal.address;
  if (!address) throw new UsageError('station-coding worker needs a cluster: set TEMPORAL_ADDRESS or coding.temporal.address');
  const telemetry = startTelemetry('station-coding-worker');
  const connection = await NativeConnection.connect({ address });
  const worker = await createWorker({ connection, config, tracing: telemetry.tracing });
  console.error(`worker serving ${config.temporal.task_queue} and ${worker.hostQueue} on ${address} (namespace ${config.temporal.namespace})`);
  const stop = () => void worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await worker.run();
  await connection.close();
  await telemetry.shutdown();
  return 0;
}

/** A coding agent for opencode-nats: takes tasks from NATS JetStream until SIGINT / SIGTERM. */
async function runNatsAgent(config: CodingConfig): Promise<number> {
  const { NatsAgent } = await import('../nats/agent/agent.js');
  const agent = new NatsAgent({ config });
  await agent.start();
  const signalled = new Promise<boolean>((resolve) => {
    process.once('SIGINT', () => resolve(true));
    process.once('SIGTERM', () => resolve(true));
  });
  const stoppedBySignal = await Promise.race([signalled, agent.closed.then(() => false)]);
  await agent.stop();
  return stoppedBySignal ? 0 : 1;
}

function openInput(values: Values, useInput = true): OpenInput {
  if (useInput && values.input) return parseJson(values.input as string) as OpenInput;
  const repo = values.repo as string | undefined;
  const input: Record<string, unknown> = {
    // A local path given on the command line means that repository: make it absolute for the worker.
    repo_url: repo && !/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) && !/^[^/]+@[^/]+:/.test(repo) && !repo.startsWith('-') ? resolve(repo) : repo,
    branch: values.branch,
    workspace_path: values.workspace ? resolve(values.workspace as string) : undefined,
    title: values.title,
    scope: values.scope,
    scope_id: values['scope-id'],
    backend: values.backend,
    credentials: values['token-env'] ? { token_env: values['token-env'] } : undefined,
    cleanup_policy: values['cleanup-policy'],
    session_id: values['session-id'],
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as OpenInput;
}

async function runCommand({ client }: Connected, values: Values, args: string[]): Promise<number> {
  const instruction = args.join(' ').trim();
  if (!instruction) throw new UsageError('run needs an instruction: station-coding run --repo <url> "<instruction>"');
  if (!values.repo && !values.workspace) throw new UsageError('run needs --repo <url-or-path> (or --workspace <dir>)');
  const human = !values.json;
  const open = { ...openInput(values, false), title: (values.title as string | undefined) ?? instruction.slice(0, 80) };
  let cancel: (() => Promise<void>) | undefined;
  const onSigint = () => {
    console.error('cancelling the running task (Ctrl-C again to quit)...');
    process.removeListener('SIGINT', onSigint);
    void cancel?.();
  };
  process.on('SIGINT', onSigint);
  try {
    const report = await runTask(
      client,
      {
        open,
        instruction,
        context: values.context as string | undefined,
        files: values.file as string[] | undefined,
        new_branch: values['new-branch'] as string | undefined,
        commit_message: values.message as string | undefined,
        push: Boolean(values.push),
      },
      {
        onStep: human ? (line) => console.error(line) : undefined,
        onProgress: values.tail ? tailPrinter(human) : undefined,
        onSession: (c) => (cancel = c),
      },
    );
    console.log(human ? formatReport(report) : JSON.stringify(report, null, 2));
    return report.error ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', onSigint);
  }
}

function tailPrinter(human: boolean) {
  return (event: ProgressEvent) => {
    if (!human) return console.error(JSON.stringify({ progress: event }));
    // The event text already names the tool ("Write: src/app.ts").
    const label = event.kind === 'tool_call' ? '→' : event.kind === 'tool_result' ? '←' : '·';
    console.error(`  ${label} ${event.text}`);
  };
}

async function toolCommand({ client }: Connected, command: string, values: Values, args: string[]): Promise<number> {
  const input = values.input ? (parseJson(values.input as string) as Record<string, unknown>) : undefined;
  const sessionId = (input?.session_id as string | undefined) ?? args[0];
  const need = (what: string) => {
    throw new UsageError(`${command} needs ${what} (see station-coding --help)`);
  };
  if (command !== 'open' && command !== 'list' && !sessionId) need('a session id');
  let result: unknown;
  switch (command) {
    case 'open':
      result = await client.open(openInput(values));
      break;
    case 'code': {
      const req = input ?? { session_id: sessionId, instruction: args.slice(1).join(' '), context: values.context, files: values.file };
      result = await client.code(req as never, values.tail ? tailPrinter(!values.json) : undefined);
      break;
    }
    case 'branch':
      result = await client.branch((input ?? { session_id: sessionId, branch: args[1] ?? need('a branch name'), create: Boolean(values.create) }) as never);
      break;
    case 'commit':
      result = await client.commit((input ?? { session_id: sessionId, message: args.slice(1).join(' ') || need('a commit message'), add_all: !values['no-add-all'] }) as never);
      break;
    case 'push':
      result = await client.push(
        (input ?? { session_id: sessionId, remote: values.remote ?? 'origin', branch: values.branch, set_upstream: !values['no-set-upstream'] }) as never,
      );
      break;
    case 'close':
      result = await client.close((input ?? { session_id: sessionId, success: !values.failed }) as never);
      break;
    case 'status':
      result = await client.status(sessionId!);
      break;
    case 'list':
      if (values.limit !== undefined && !/^[1-9]\d*$/.test(String(values.limit))) throw new UsageError('--limit needs a positive whole number');
      result = await client.list(values.limit ? Number(values.limit) : 50);
      break;
    case 'cancel': {
      if (values.task !== undefined && !/^[1-9]\d*$/.test(String(values.task))) throw new UsageError('--task needs a task number (status: running_task.task)');
      const target = values.task !== undefined ? { task: Number(values.task) } : {};
      await client.cancel(sessionId!, target);
      result = { session_id: sessionId, cancel_requested: true, ...target };
      break;
    }
  }
  console.log(JSON.stringify(result, null, 2));
  return 0;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
  }
}

/** Errors a user can act on are printed as one line; anything else too, unless --verbose asks for the stack. */
export function reportError(err: unknown, verbose: boolean): number {
  const known = [UsageError, ConfigError, InvalidInputError, CodingClientError, TemporalCliMissing].some((k) => err instanceof k);
  const message = err instanceof Error ? err.message : String(err);
  console.error(`station-coding: ${message.split('\n')[0]}`);
  if (verbose && !known && err instanceof Error && err.stack) console.error(err.stack);
  return err instanceof UsageError ? 2 : 1;
}
