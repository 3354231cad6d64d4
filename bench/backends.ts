// `npm run bench` part `backends`: for each local backend, a task through a session (open session, `code` update:
// workflow, sandbox, working-tree snapshots for files_changed, heartbeats) against the same CLI run by hand, on the
// same scripted conversation (write a file, run `true`, answer), interleaved, medians. "By hand" is the command a
// person would type: the same binary and headless flags, its settings prepared once, no sandbox, no session; and,
// as the session does, each run continues the one conversation in the one directory (a resumed conversation grows,
// and the CLIs' resume costs are theirs on both sides).
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CodingClient } from '../src/client/client.js';
import type { Backend } from '../src/contract.js';
import { codexArgs } from '../src/runners/codex/arguments.js';
import { codexConfigToml } from '../src/runners/codex/codex-home.js';
import { ensurePackageCache } from '../src/runners/copilot/package-cache.js';
import { sessionSettings as geminiSettings } from '../src/runners/gemini/session-store.js';
import { sessionSettings as qwenSettings } from '../src/runners/qwen/home.js';
import { startFakeAnthropic, defaultScript as claudeScript } from '../test/support/fake-anthropic.js';
import { FAKE_GEMINI_MODEL, startFakeGemini, defaultScript as geminiScript } from '../test/support/fake-gemini.js';
import { copilotScript, defaultScript as openaiScript, qwenScript, startFakeOpenAI } from '../test/support/fake-openai.js';
import { defaultScript as codexScript, startFakeResponses } from '../test/support/fake-responses.js';
import { fakeOpenCodeConfig } from '../test/support/opencode-fixture.js';
import { BIN, codexFakeProvider } from '../test/support/world.js';
import { interleaved, median, run } from './measure.js';

const PROMPT = 'Write the file, run the command, and say what you did.';

interface Recipe {
  name: Backend;
  /** Point the backend's fake model at the scripted conversation writing `file`. */
  script(file: string): void;
  /** The command a person would run in `dir`, continuing `conversation` (undefined: the first run starts it). */
  byHand(dir: string, conversation: string | undefined): { file: string; args: string[]; env: Record<string, string>; stdin?: string };
  /** The conversation the first run started: fixed up front, or read from its output. */
  conversation(stdout: string): string | undefined;
}

/** A conversation id given up front, for CLIs that take one. */
const FIXED = randomUUID();
const fixed = () => FIXED;
/** The first JSON line's field `key` anywhere in the output (codex thread.started, opencode sessionID). */
const fromOutput = (key: string) => (stdout: string) => new RegExp(`"${key}"\\s*:\\s*"([^"]+)"`).exec(stdout)?.[1];

export interface BackendBench {
  /** The worker config sections that point every backend at its fake model. */
  config: Record<string, unknown>;
  measure(opts: { rounds: number; client: CodingClient; repoUrl: (name: string) => Promise<string>; row: (what: string, measured: string, goal: string, met: boolean) => void }): Promise<void>;
  close(): Promise<void>;
}

export async function startBackendBench(scratch: string, only?: string[]): Promise<BackendBench> {
  const [anthropic, openai, responses, gemini] = await Promise.all([startFakeAnthropic(), startFakeOpenAI(), startFakeResponses(), startFakeGemini()]);
  const home = await mkdtemp(join(scratch, 'by-hand-home-'));
  const path = process.env.PATH ?? '/usr/bin:/bin';
  const script = { command: 'true', finalText: 'Done.' };

  // Settings a person would have in their HOME, written once.
  const codexHome = join(home, '.codex');
  await mkdir(codexHome, { recursive: true });
  await writeFile(join(codexHome, 'config.toml'), codexConfigToml(codexFakeProvider(responses.url), 'fake-codex-model'));
  await mkdir(join(home, '.gemini'), { recursive: true });
  await writeFile(join(home, '.gemini', 'settings.json'), JSON.stringify(geminiSettings(undefined)));
  await mkdir(join(home, '.qwen'), { recursive: true });
  await writeFile(join(home, '.qwen', 'settings.json'), JSON.stringify(qwenSettings(undefined)));
  const copilotCache = join(home, '.cache', 'copilot');
  await ensurePackageCache(BIN.copilot, copilotCache);

  const recipes: Recipe[] = [
    {
      name: 'claudecode',
      script: (file) => anthropic.setScript(claudeScript({ ...script, file })),
      conversation: fixed,
      byHand: (_dir, conversation) => ({
        file: BIN.claude,
        args: ['-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'bypassPermissions', '--model', 'claude-sonnet-4-5', conversation ? '--resume' : '--session-id', FIXED],
        env: { PATH: path, HOME: home, IS_SANDBOX: '1', ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'bench' },
        stdin: PROMPT,
      }),
    },
    {
      name: 'opencode-cli',
      script: (file) => openai.setScript(openaiScript({ ...script, file })),
      conversation: fromOutput('sessionID'),
      byHand: (dir, conversation) => ({
        file: BIN.opencode,
        args: ['run', '--format', 'json', '--dir', dir, '-m', 'fake/m', ...(conversation ? ['-s', conversation] : ['--title', 'bench'])],
        env: { PATH: path, HOME: home, OPENCODE_CONFIG_CONTENT: JSON.stringify(fakeOpenCodeConfig(openai.url)) },
        stdin: PROMPT,
      }),
    },
    {
      name: 'codex',
      script: (file) => responses.setScript(codexScript({ ...script, file })),
      conversation: fromOutput('thread_id'),
      byHand: (_dir, conversation) => ({ file: BIN.codex, args: codexArgs({ threadId: conversation }), env: { PATH: path, HOME: home, CODEX_HOME: codexHome, FAKE_CODEX_KEY: 'bench' }, stdin: PROMPT }),
    },
    {
      name: 'gemini',
      script: (file) => gemini.setScript(geminiScript({ ...script, file })),
      conversation: fixed,
      byHand: (_dir, conversation) => ({
        file: BIN.gemini,
        args: ['-p', '', '--output-format', 'stream-json', '--approval-mode', 'yolo', '--skip-trust', '--model', FAKE_GEMINI_MODEL, conversation ? '--resume' : '--session-id', FIXED],
        env: { PATH: path, HOME: home, GEMINI_API_KEY: 'bench', GOOGLE_GEMINI_BASE_URL: gemini.url, GEMINI_CLI_NO_RELAUNCH: 'true' },
        stdin: PROMPT,
      }),
    },
    {
      name: 'qwen',
      script: (file) => openai.setScript(qwenScript({ ...script, file })),
      conversation: fixed,
      byHand: (_dir, conversation) => ({
        file: BIN.qwen,
        args: ['-p', '', '--output-format', 'stream-json', '--approval-mode', 'yolo', '--model', 'fake-qwen-model', conversation ? '--resume' : '--session-id', FIXED],
        env: { PATH: path, HOME: home, OPENAI_BASE_URL: openai.url, OPENAI_API_KEY: 'bench', OPENAI_MODEL: 'fake-qwen-model' },
        stdin: PROMPT,
      }),
    },
    {
      name: 'copilot',
      script: (file) => openai.setScript(copilotScript({ ...script, file })),
      conversation: fixed,
      byHand: () => ({
        file: BIN.copilot,
        args: ['--output-format', 'json', '--allow-all-tools', '--no-ask-user', '--model', 'fake-copilot-model', '--session-id', FIXED],
        env: {
          PATH: path,
          HOME: home,
          COPILOT_PROVIDER_BASE_URL: openai.url,
          COPILOT_PROVIDER_TYPE: 'openai',
          COPILOT_PROVIDER_API_KEY: 'bench',
          COPILOT_OFFLINE: 'true',
          COPILOT_PKG_CACHE_HOME: copilotCache,
        },
        stdin: PROMPT,
      }),
    },
  ];

  const config = {
    claudecode: { binary_path: BIN.claude, model: 'claude-sonnet-4-5', home: join(home, 'claude-worker'), env: { ANTHROPIC_BASE_URL: anthropic.url, ANTHROPIC_API_KEY: 'bench' } },
    opencode: { binary_path: BIN.opencode, model: 'fake/m', config: fakeOpenCodeConfig(openai.url) },
    cli: { binary_path: BIN.opencode },
    codex: { binary_path: BIN.codex, model: 'fake-codex-model', env: { FAKE_CODEX_KEY: 'bench' }, config: codexFakeProvider(responses.url) },
    gemini: { binary_path: BIN.gemini, model: FAKE_GEMINI_MODEL, env: { GEMINI_API_KEY: 'bench', GOOGLE_GEMINI_BASE_URL: gemini.url } },
    qwen: { binary_path: BIN.qwen, model: 'fake-qwen-model', env: { OPENAI_BASE_URL: openai.url, OPENAI_API_KEY: 'bench' } },
    copilot: { binary_path: BIN.copilot, model: 'fake-copilot-model', env: { COPILOT_PROVIDER_BASE_URL: openai.url, COPILOT_PROVIDER_TYPE: 'openai', COPILOT_PROVIDER_API_KEY: 'bench' } },
  };

  return {
    config,
    async measure({ rounds, client, repoUrl, row }) {
      for (const recipe of recipes.filter((r) => !only || only.includes(r.name))) {
        const { session_id } = await client.open({ repo_url: await repoUrl(`backend-${recipe.name}`), backend: recipe.name });
        const dir = await mkdtemp(join(scratch, `by-hand-${recipe.name}-`));
        await run('git', ['init', '--quiet', dir]);
        let conversation: string | undefined;
        const throughSession = async (i: number) => {
          recipe.script(`session-${i}.txt`);
          const result = await client.code({ session_id, instruction: PROMPT });
          if (!result.success) throw new Error(`${recipe.name} through a session failed: ${result.error}`);
        };
        const byHand = async (i: number) => {
          recipe.script(`hand-${i}.txt`);
          const { file, args, env, stdin } = recipe.byHand(dir, conversation);
          const child = run(file, args, { cwd: dir, env, maxBuffer: 64 << 20, timeout: 120_000 });
          child.child.stdin?.end(stdin ?? '');
          const { stdout } = await child;
          conversation ??= recipe.conversation(stdout);
          if (!conversation) throw new Error(`${recipe.name} by hand: no conversation id in its output`);
        };
        // One untimed round each: first-run work (caches, databases, the conversation itself) is not what is measured.
        await throughSession(rounds);
        await byHand(rounds);
        const t = await interleaved(rounds, throughSession, byHand);
        const [session, hand] = [median(t.a), median(t.b)];
        row(
          `\`${recipe.name}\`: a task through a session vs the same CLI by hand (p50 of ${rounds}, the same scripted conversation)`,
          `${session.toFixed(0)} ms vs ${hand.toFixed(0)} ms: ${(session - hand).toFixed(0)} ms added, ${(session / hand).toFixed(2)}×`,
          '≤ 150 ms added p50',
          session - hand <= 150,
        );
        await client.close({ session_id });
      }
    },
    async close() {
      await Promise.allSettled([anthropic.close(), openai.close(), responses.close(), gemini.close()]);
    },
  };
}
