// Everything an end-to-end test needs, started once per test run and shared: a real Temporal dev server,
// the authenticated git server, the fake model servers, a worker with the real backends, and a client.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { connectClient, connectNative } from '../../src/client/connection.js';
import { parseCodingConfig, type CodingConfig } from '../../src/config.js';
import { CodingClient } from '../../src/client/client.js';
import { createWorker, type CodingWorker } from '../../src/worker.js';
import type { Tracing } from '../../src/telemetry/setup.js';
import { startFakeAnthropic, defaultScript as claudeScript, type FakeAnthropic } from './fake-anthropic.js';
import { startFakeOpenAI, defaultScript as openaiScript, type FakeOpenAI } from './fake-openai.js';
import { startFakeResponses, defaultScript as codexScript, type FakeResponses } from './fake-responses.js';
import { startFakeGemini, defaultScript as geminiScript, FAKE_GEMINI_MODEL, type FakeGemini } from './fake-gemini.js';
import { startGitServer, type GitServer } from './git-server.js';
import { sharedTemporalServer, stopSharedTemporalServer, type TemporalServer } from './temporal-server.js';
import { fakeOpenCodeConfig } from './opencode-fixture.js';
import { startWorkerProcess } from './worker-process.js';
import { ROOT } from './root.js';

/** The model name Qwen Code asks the fake OpenAI server for (priced in the test world). */
export const FAKE_QWEN_MODEL = 'fake-qwen-model';
/** The model name the Copilot CLI asks the fake OpenAI server for (priced in the test world). */
export const FAKE_COPILOT_MODEL = 'fake-copilot-model';
export const GIT_TOKEN_ENV = 'STATION_TEST_GIT_TOKEN';
export { ROOT };
export const BIN = {
  claude: join(ROOT, 'node_modules', '.bin', 'claude'),
  opencode: join(ROOT, 'node_modules', '.bin', 'opencode'),
  codex: join(ROOT, 'node_modules', '.bin', 'codex'),
  gemini: join(ROOT, 'node_modules', '.bin', 'gemini'),
  qwen: join(ROOT, 'node_modules', '.bin', 'qwen'),
  copilot: join(ROOT, 'node_modules', '.bin', 'copilot'),
  stationCoding: join(ROOT, 'bin', 'station-coding.js'),
};

export interface World {
  temporal: TemporalServer;
  connection: Connection;
  client: CodingClient;
  git: GitServer;
  token: string;
  claude: FakeAnthropic;
  openai: FakeOpenAI;
  /** The OpenAI Responses API fake that the codex backend talks to. */
  responses: FakeResponses;
  gemini: FakeGemini;
  config: CodingConfig;
  /** Raw config (before parsing) so tests can derive variants, e.g. for CLI subprocesses. */
  rawConfig: Record<string, any>;
  worker: CodingWorker;
  /** Every line the Temporal runtime logged in this process (worker and client). */
  logs: string[];
  workspaceBase: string;
  stateDir: string;
}

let world: Promise<World> | undefined;
let stopWorld: (() => Promise<void>) | undefined;

export function getWorld(): Promise<World> {
  world ??= startWorld();
  return world;
}

async function startWorld(): Promise<World> {
  const logs: string[] = [];
  Runtime.install({
    logger: new DefaultLogger('DEBUG', (entry) => {
      logs.push(`${entry.level} ${entry.message} ${JSON.stringify(entry.meta ?? {})}`);
    }),
  });
  const token = `tok_${randomBytes(12).toString('hex')}`;
  process.env[GIT_TOKEN_ENV] = token;
  const [temporal, git, claude, openai, responses, gemini] = await Promise.all([
    sharedTemporalServer(),
    startGitServer(token),
    startFakeAnthropic(),
    startFakeOpenAI(),
    startFakeResponses(),
    startFakeGemini(),
  ]);
  claude.setScript(claudeScript());
  openai.setScript(openaiScript());
  responses.setScript(codexScript());
  gemini.setScript(geminiScript());
  const workspaceBase = await mkdtemp(join(tmpdir(), 'station-ws-'));
  const stateDir = await mkdtemp(join(tmpdir(), 'station-state-'));
  process.env.STATION_STATE_DIR = stateDir;
  const claudeHome = await mkdtemp(join(tmpdir(), 'claude-home-'));
  const rawConfig = {
    backend: 'claudecode',
    claudecode: {
      binary_path: BIN.claude,
      timeout_sec: 120,
      model: 'claude-sonnet-4-5',
      max_turns: 10,
      home: claudeHome,
      env: { ANTHROPIC_BASE_URL: claude.url, ANTHROPIC_API_KEY: 'sk-ant-test-key', CLAUDE_CODE_MAX_RETRIES: '0' },
    },
    opencode: { binary_path: BIN.opencode, model: 'fake/m', config: fakeOpenCodeConfig(openai.url) },
    cli: { binary_path: BIN.opencode, timeout_sec: 120 },
    codex: {
      binary_path: BIN.codex,
      timeout_sec: 120,
      model: 'fake-codex-model',
      env: { FAKE_CODEX_KEY: 'sk-codex-test-key' },
      config: codexFakeProvider(responses.url),
    },
    // Codex reports tokens, no cost: this price makes its tasks cost something, so budgets apply to it.
    // The Gemini CLI talks to the fake Gemini API; any key will do (the fake does not check it).
    gemini: { binary_path: BIN.gemini, timeout_sec: 120, model: FAKE_GEMINI_MODEL, env: { GEMINI_API_KEY: 'gemini-test-key', GOOGLE_GEMINI_BASE_URL: gemini.url } },
    // Qwen Code talks to the fake OpenAI-compatible model (the one OpenCode uses).
    qwen: { binary_path: BIN.qwen, timeout_sec: 120, model: FAKE_QWEN_MODEL, env: { OPENAI_BASE_URL: openai.url, OPENAI_API_KEY: 'sk-qwen-test-key-0123456789' } },
    // The Copilot CLI with the fake OpenAI-compatible model as its own provider (no GitHub login; offline).
    copilot: {
      binary_path: BIN.copilot,
      timeout_sec: 120,
      model: FAKE_COPILOT_MODEL,
      env: { COPILOT_PROVIDER_BASE_URL: openai.url, COPILOT_PROVIDER_TYPE: 'openai', COPILOT_PROVIDER_API_KEY: 'sk-copilot-test-key-0123456789' },
    },
    // Gemini, Qwen and Copilot report tokens, no cost: priced here (USD per million tokens), so budgets hold for them.
    pricing: {
      'fake-codex-model': { input: 3, output: 15, cache_read: 0.3 },
      [FAKE_GEMINI_MODEL]: { input: 1.25, output: 10, cache_read: 0.31 },
      [FAKE_QWEN_MODEL]: { input: 2, output: 6, cache_read: 0.5 },
      [FAKE_COPILOT_MODEL]: { input: 2, output: 8, cache_read: 0.2 },
    },
    workspace_base_path: workspaceBase,
    idle_timeout_min: 30,
    task_timeout_min: 5,
    // The token goes to the test git server's host:port only.
    git: { host: new URL(git.url).host, token_env: GIT_TOKEN_ENV, user_name: 'Test Bot', user_email: 'bot@test.invalid' },
    temporal: { address: temporal.address, task_queue: `station-coding-test-${randomBytes(3).toString('hex')}`, worker_id: 'test-host' },
  };
  const config = parseCodingConfig(rawConfig);
  const connection = await connectClient(config.temporal);
  const client = new CodingClient(connection, { namespace: 'default', taskQueue: config.temporal.task_queue });
  const nativeConnection = await connectNative(config.temporal);
  const worker = await createWorker({ connection: nativeConnection, config });
  const running = worker.run();
  // On a cluster (`npm run test:cluster`) a second worker process with its own worker_id serves the same task
  // queue, as a second host would: sessions open on either, and each operation must reach the one holding the
  // workspace.
  const secondId = process.env.STATION_TEST_SECOND_WORKER_ID;
  const second = secondId ? await startWorkerProcess(BIN.stationCoding, rawConfig, secondId, stateDir) : undefined;
  stopWorld = async () => {
    await Promise.all([worker.shutdown().catch(() => {}), second?.stop().catch(() => {})]);
    await running.catch(() => {});
    await nativeConnection.close().catch(() => {});
    await connection.close().catch(() => {});
    await Promise.allSettled([git.close(), claude.close(), openai.close(), responses.close(), gemini.close()]);
    await Promise.allSettled([workspaceBase, stateDir, claudeHome].map((dir) => rm(dir, { recursive: true, force: true })));
  };
  return { temporal, connection, client, git, token, claude, openai, responses, gemini, config, rawConfig, worker, logs, workspaceBase, stateDir };
}

/** Codex config keys for a provider on the fake Responses server (no retries: a failure shows at once). */
export function codexFakeProvider(url: string): Record<string, unknown> {
  return {
    model_provider: 'fake',
    model_providers: { fake: { name: 'fake', base_url: url, env_key: 'FAKE_CODEX_KEY', wire_api: 'responses', request_max_retries: 0, stream_max_retries: 0 } },
  };
}

export const mochaHooks = {
  async afterAll(this: Mocha.Context) {
    this.timeout(60_000);
    await stopWorld?.();
    await stopSharedTemporalServer();
  },
};

export interface VariantWorker {
  client: CodingClient;
  config: CodingConfig;
  stop(): Promise<void>;
}

/** A second worker on its own task queue with config overrides (short timeouts and the like). */
export async function startVariantWorker(w: World, overrides: Record<string, any>, options: { tracing?: Tracing } = {}): Promise<VariantWorker> {
  const raw = structuredClone(w.rawConfig);
  for (const [key, value] of Object.entries(overrides)) {
    raw[key] = value && typeof value === 'object' && !Array.isArray(value) ? { ...raw[key], ...value } : value;
  }
  raw.temporal = { ...raw.temporal, task_queue: `${w.config.temporal.task_queue}-${randomBytes(3).toString('hex')}`, worker_id: `variant-${randomBytes(3).toString('hex')}` };
  const config = parseCodingConfig(raw);
  const nativeConnection = await connectNative(config.temporal);
  const worker = await createWorker({ connection: nativeConnection, config, tracing: options.tracing });
  const running = worker.run();
  return {
    config,
    client: new CodingClient(w.connection, { namespace: 'default', taskQueue: config.temporal.task_queue, tracing: options.tracing !== undefined }),
    async stop() {
      await worker.shutdown();
      await running;
      await nativeConnection.close();
    },
  };
}
