// The `claudecode` runner: the Claude Code CLI as a subprocess, one `claude -p` per task.
//
//   claude -p --output-format stream-json --verbose --permission-mode bypassPermissions --max-turns N
//          [--model M] [--tools A,B --allowedTools A,B] [--disallowedTools C,D]
//          (--session-id <uuid> | --resume <uuid>)                               (prompt on stdin)
//
// The working directory is the workspace (there is no --cwd). Every stdout line is a JSON event:
// system/init (session_id, tools, model), system/api_retry (attempt, error_status), assistant (one event per
// content block: text or tool_use{id,name,input}), user (tool_result{tool_use_id, content, is_error}) and a
// final `result` (subtype, is_error, api_error_status, result, session_id, total_cost_usd, usage, num_turns).
// What Claude Code 2.1.197 does that this file relies on is written down in the comments where it matters.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { AgentOutcome, AgentRunner, AgentTask } from '../backends/backend.js';
import { addTokens, zeroTokens, type ProgressEvent, type Tokens, type ToolCall } from '../contract.js';
import { CodingError } from '../backends/errors.js';
import { baseChildEnv, runProcess, truncate, type ProcessOutcome } from '../process/process.js';

export interface ClaudeCodeSettings {
  binary_path: string;
  timeout_sec: number;
  model?: string;
  max_turns: number;
  allowed_tools?: string[];
  disallowed_tools?: string[];
  /** HOME for the child (where claude keeps sessions and its login); default the worker's HOME */
  home?: string;
  /** extra environment for the child, e.g. ANTHROPIC_BASE_URL / ANTHROPIC_API_KEY */
  env?: Record<string, string>;
}

// Limits that keep a task's result far below Temporal's 2 MB payload limit.
const MAX_TOOL_CALLS = 200;
const MAX_TOOL_TEXT = 2000;
const MAX_INPUT_STRING = 1000;
const MAX_SUMMARY = 20_000;
const PROGRESS_TEXT = 500;

/**
 * The CLI retries a 401 like a transient error (10 attempts over about three minutes). One retry is left to
 * it (it may refresh a login); after that the run is stopped and reported as an auth failure.
 */
const AUTH_RETRY_ATTEMPTS_TOLERATED = 1;

type SessionMode = { flag: '--session-id' | '--resume'; id: string };

export class ClaudeCodeRunner implements AgentRunner {
  readonly name = 'claudecode' as const;

  constructor(private readonly settings: ClaudeCodeSettings) {}

  async run(task: AgentTask): Promise<AgentOutcome> {
    const started = Date.now();
    const timeoutMs = effectiveTimeoutMs(task.timeout_ms, this.settings.timeout_sec);
    const home = this.settings.home ?? process.env.HOME ?? os.homedir();
    if (this.settings.home) mkdirSync(home, { recursive: true });
    const env = childEnv(home, this.settings.env);
    if (task.traceparent) env.TRACEPARENT = task.traceparent; // a CLI that emits telemetry can join our trace
    const secrets = secretValues(env);
    const binary = resolveClaudeBinary(this.settings.binary_path);
    const deadline = started + timeoutMs;

    let session = chooseSession(task, claudeConfigDir(env, home));
    if (task.backend_session_id && session.flag === '--session-id') {
      // Another worker's HOME, or a deleted store: the workspace is still here, the conversation is not.
      safeProgress(task, {
        kind: 'text',
        text: `Claude Code session ${task.backend_session_id} not found under ${claudeConfigDir(env, home)}; starting a new conversation`,
      });
    }
    for (let attempt = 0; ; attempt++) {
      const stream = new StreamReader(task, session.id);
      const abort = new AbortController();
      const outcome = await runProcess({
        file: binary,
        args: this.args(session, task.budget?.max_cost_usd),
        cwd: task.workspace_path,
        env,
        stdin: task.prompt,
        timeoutMs: Math.max(1, deadline - Date.now()),
        signal: AbortSignal.any([task.signal, abort.signal]),
        onLine: (line) => {
          stream.onLine(line);
          if (stream.authFailure && !abort.signal.aborted) abort.abort();
        },
      });
      if (outcome.spawnError) throw binaryMissing(binary, outcome.spawnError);

      // The session store and the id we chose disagree (a file we did not find, or one that is gone):
      // switch between --session-id and --resume once and run again. Nothing ran yet in either case.
      const retry = attempt === 0 ? sessionFallback(session, stream, outcome) : undefined;
      if (retry) {
        session = retry;
        continue;
      }
      return interpret({ stream, outcome, started, timeoutMs, secrets, home, task });
    }
  }

  private args(session: SessionMode, maxCostUsd: number | undefined): string[] {
    const { model, max_turns, allowed_tools, disallowed_tools } = this.settings;
    // bypassPermissions: in -p mode anything not auto-approved is denied. As root the CLI refuses this mode
    // unless IS_SANDBOX=1 is in its environment (childEnv sets it).
    const args = ['-p', '--output-format', 'stream-json', '--verbose', '--permission-mode', 'bypassPermissions'];
    args.push('--max-turns', String(max_turns));
    if (model) args.push('--model', model);
    // --tools restricts what is offered to the model; --allowedTools alone only auto-approves.
    // The `--flag=a,b` form keeps these variadic options from swallowing the arguments that follow.
    if (allowed_tools?.length) args.push(`--tools=${allowed_tools.join(',')}`, `--allowedTools=${allowed_tools.join(',')}`);
    if (disallowed_tools?.length) args.push(`--disallowedTools=${disallowed_tools.join(',')}`);
    // The CLI's own guard stops between model calls; the session's BudgetGuard judges the final figures.
    if (maxCostUsd !== undefined) args.push('--max-budget-usd', maxCostUsd.toFixed(6));
    args.push(session.flag, session.id);
    return args;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Environment, binary and sessions

/** The child's environment: nothing of the worker's beyond the basics and what configures Claude Code. */
function childEnv(home: string, extra: Record<string, string> | undefined): Record<string, string> {
  const env = baseChildEnv({ HOME: home });
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && /^(ANTHROPIC|CLAUDE)_/.test(key)) env[key] = value;
  }
  // Quiet: no telemetry, no update checks, no title-generation request to the model.
  env.CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = '1';
  env.DISABLE_TELEMETRY = '1';
  env.DISABLE_AUTOUPDATER = '1';
  // As root the CLI refuses bypassPermissions ("cannot be used with root/sudo privileges") unless this is set.
  if (process.getuid?.() === 0) env.IS_SANDBOX = '1';
  Object.assign(env, extra ?? {});
  return env;
}

/** Values of the child's secret-looking variables: they are cut out of every message we pass on. */
function secretValues(env: Record<string, string>): string[] {
  return Object.entries(env)
    .filter(([key, value]) => /KEY|TOKEN|SECRET|PASSWORD|AUTH/i.test(key) && value.length >= 6)
    .map(([, value]) => value);
}

function sanitize(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out.replace(/\bsk-ant-[A-Za-z0-9_-]{8,}/g, '[redacted]').replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/**
 * The binary for `configured` (a path, or a name looked up on PATH). The bare name "claude" that is not on
 * PATH falls back to the binary of the @anthropic-ai/claude-code dependency.
 */
export function resolveClaudeBinary(configured: string | undefined): string {
  const name = configured?.trim() || 'claude';
  if (name !== 'claude') return name;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, name))) return name;
  }
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('@anthropic-ai/claude-code/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
    const bin = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.claude;
    if (bin && existsSync(path.resolve(path.dirname(pkgPath), bin))) return path.resolve(path.dirname(pkgPath), bin);
  } catch {
    // not installed as a dependency
  }
  return name;
}

function binaryMissing(binary: string, error: NodeJS.ErrnoException): CodingError {
  return new CodingError(
    `cannot start the Claude Code CLI '${binary}' (${error.code ?? error.message}): install it with ` +
      '`npm install -g @anthropic-ai/claude-code` or set coding.claudecode.binary_path to its path',
    'binary_missing',
    false,
  );
}

/** Where the CLI keeps its state: $CLAUDE_CONFIG_DIR, else $HOME/.claude. */
function claudeConfigDir(env: Record<string, string>, home: string): string {
  return env.CLAUDE_CONFIG_DIR || path.join(home, '.claude');
}

/**
 * --resume when the session's transcript exists, else --session-id with an id fixed up front, so the id is
 * known even if the run dies. A first task gets an id derived from the coding session, workspace and prompt:
 * a retry of that same task finds the transcript its first attempt left and resumes it instead of failing
 * with "Session ID ... is already in use"; a later task that was never given the id does the same.
 */
function chooseSession(task: AgentTask, configDir: string): SessionMode {
  const wanted = task.backend_session_id && isUuid(task.backend_session_id) ? task.backend_session_id : undefined;
  const id = wanted ?? derivedSessionId(task);
  return { flag: sessionExists(configDir, task.workspace_path, id) ? '--resume' : '--session-id', id };
}

function derivedSessionId(task: AgentTask): string {
  const hash = createHash('sha256')
    .update(`station-coding\0${task.session_id}\0${task.workspace_path}\0${task.prompt}`)
    .digest();
  hash[6] = (hash[6]! & 0x0f) | 0x40; // RFC 4122 version 4 layout (claude only checks the format)
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/**
 * Transcripts live in <config>/projects/<cwd with every non-alphanumeric character replaced by '-'>/<id>.jsonl,
 * and --resume only finds those of the current working directory. Longer paths (over 200 characters) get a
 * cut name with a hash suffix, and the rule may change in later versions: then the transcript is looked for
 * in every project directory, checking the cwd it records.
 */
function sessionExists(configDir: string, cwd: string, id: string): boolean {
  const projects = path.join(configDir, 'projects');
  const file = `${id}.jsonl`;
  for (const dir of new Set([cwd, realpathOr(cwd)])) {
    if (existsSync(path.join(projects, dir.replace(/[^a-zA-Z0-9]/g, '-'), file))) return true;
  }
  let dirs: string[];
  try {
    dirs = readdirSync(projects);
  } catch {
    return false;
  }
  return dirs.some((dir) => transcriptRecordsCwd(path.join(projects, dir, file), cwd));
}

function transcriptRecordsCwd(file: string, cwd: string): boolean {
  try {
    const head = readFileSync(file, 'utf8').slice(0, 64 * 1024);
    return head.includes(`"cwd":${JSON.stringify(cwd)}`) || head.includes(`"cwd":${JSON.stringify(realpathOr(cwd))}`);
  } catch {
    return false;
  }
}

function realpathOr(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** The other session flag, when the CLI said the one we used does not fit the session store. */
function sessionFallback(session: SessionMode, stream: StreamReader, outcome: ProcessOutcome): SessionMode | undefined {
  if (outcome.cancelled || outcome.timedOut || stream.sawModelCall) return undefined;
  const said = `${outcome.stderrTail}\n${stream.resultErrors.join('\n')}`;
  // 2.1.197: "Error: Session ID <id> is already in use." on stderr, exit 1, no result line.
  if (session.flag === '--session-id' && /is already in use/i.test(said)) return { flag: '--resume', id: session.id };
  // 2.1.197: "No conversation found with session ID: <id>", and a result error_during_execution with it in `errors`.
  if (session.flag === '--resume' && /No conversation found/i.test(said)) return { flag: '--session-id', id: session.id };
  return undefined;
}

function effectiveTimeoutMs(taskTimeoutMs: number, timeoutSec: number): number {
  const candidates = [taskTimeoutMs, timeoutSec * 1000].filter((n) => Number.isFinite(n) && n > 0);
  return candidates.length ? Math.min(...candidates) : 30 * 60 * 1000;
}

// ---------------------------------------------------------------------------------------------------------
// Reading the stream-json events

interface Usage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

interface ContentBlock {
  type?: string;
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
  tool_use_id?: string;
  content?: unknown;
  is_error?: boolean;
}

interface StreamEvent {
  type?: string;
  subtype?: string;
  session_id?: string;
  message?: { id?: string; model?: string; content?: ContentBlock[] | string; usage?: Usage };
  // system/api_retry
  attempt?: number;
  error_status?: number | null;
  error?: string;
  // result
  is_error?: boolean;
  api_error_status?: number | null;
  result?: string;
  total_cost_usd?: number;
  usage?: Usage;
  num_turns?: number;
  errors?: string[];
}

type ResultEvent = StreamEvent & { type: 'result' };

/** Collects what a run reports, and forwards progress as it happens. */
class StreamReader {
  sessionId: string;
  result?: ResultEvent;
  authFailure?: { status: number; error: string };
  /** True once the CLI reached the model (anything beyond system/init). */
  sawModelCall = false;
  resultErrors: string[] = [];
  readonly toolCalls: ToolCall[] = [];
  private omittedToolCalls = 0;
  private readonly callsById = new Map<string, ToolCall>();
  private readonly toolNames = new Map<string, string>();
  /** Text blocks of the assistant, with the id of the message they belong to. */
  private readonly texts: { messageId: string; text: string }[] = [];
  /** Latest usage seen per assistant message (a message's blocks arrive as separate events). */
  private readonly usageByMessage = new Map<string, Usage>();

  constructor(
    private readonly task: AgentTask,
    initialSessionId: string,
  ) {
    this.sessionId = initialSessionId;
  }

  onLine(line: string): void {
    let event: StreamEvent;
    try {
      event = JSON.parse(line) as StreamEvent;
    } catch {
      return; // not an event (a stray log line)
    }
    if (!event || typeof event !== 'object') return;
    if (typeof event.session_id === 'string' && event.session_id) this.sessionId = event.session_id;
    switch (event.type) {
      case 'system':
        if (event.subtype === 'api_retry') this.onApiRetry(event);
        return;
      case 'assistant':
        this.sawModelCall = true;
        this.onAssistant(event);
        return;
      case 'user':
        this.onUser(event);
        return;
      case 'result':
        this.result = event as ResultEvent;
        this.resultErrors = Array.isArray(event.errors) ? event.errors.map(String) : [];
        return;
      default:
        return;
    }
  }

  private onApiRetry(event: StreamEvent): void {
    this.sawModelCall = true;
    const status = event.error_status ?? 0;
    if ((status === 401 || status === 403) && (event.attempt ?? 0) > AUTH_RETRY_ATTEMPTS_TOLERATED) {
      this.authFailure = { status, error: event.error ?? 'authentication_failed' };
    }
  }

  private onAssistant(event: StreamEvent): void {
    const message = event.message;
    const messageId = message?.id ?? '';
    if (message?.usage) this.usageByMessage.set(messageId, message.usage);
    if (!Array.isArray(message?.content)) return;
    for (const block of message.content) {
      if (block.type === 'text' && block.text?.trim()) {
        this.texts.push({ messageId, text: block.text });
        this.progress({ kind: 'text', text: truncate(block.text.trim(), PROGRESS_TEXT) });
      } else if (block.type === 'tool_use') {
        this.onToolUse(block);
      }
    }
  }

  private onToolUse(block: ContentBlock): void {
    const tool = block.name ?? 'unknown';
    if (block.id) this.toolNames.set(block.id, tool);
    this.progress({ kind: 'tool_call', tool, text: describeToolCall(tool, block.input) });
    if (this.toolCalls.length >= MAX_TOOL_CALLS) {
      this.omittedToolCalls++;
      return;
    }
    const call: ToolCall = { tool, input: compactInput(block.input) };
    this.toolCalls.push(call);
    if (block.id) this.callsById.set(block.id, call);
  }

  private onUser(event: StreamEvent): void {
    const content = event.message?.content;
    if (!Array.isArray(content)) return;
    for (const block of content) {
      if (block.type !== 'tool_result') continue;
      const output = truncate(toolResultText(block.content), MAX_TOOL_TEXT);
      const tool = (block.tool_use_id && this.toolNames.get(block.tool_use_id)) || undefined;
      const call = block.tool_use_id ? this.callsById.get(block.tool_use_id) : undefined;
      if (call) {
        if (block.is_error) call.error = output || 'tool failed';
        else call.output = output;
      }
      this.progress({
        kind: 'tool_result',
        tool,
        text: truncate(block.is_error ? `${tool ?? 'tool'} failed: ${output}` : output, PROGRESS_TEXT),
      });
    }
  }

  /** Tool calls, with a note standing in for those left out. */
  finalToolCalls(): ToolCall[] {
    if (this.omittedToolCalls === 0) return this.toolCalls;
    return [...this.toolCalls, { tool: '(omitted)', output: `${this.omittedToolCalls} more tool calls not recorded` }];
  }

  /** The text of the last assistant message that said something. */
  lastAssistantText(): string {
    if (this.texts.length === 0) return '';
    const lastId = this.texts[this.texts.length - 1]!.messageId;
    return this.texts
      .filter((t) => t.messageId === lastId)
      .map((t) => t.text.trim())
      .join('\n\n');
  }

  /** Tokens from the result; without one (killed), the sum of what the assistant messages reported. */
  tokens(): Tokens {
    if (this.result?.usage) return tokensOf(this.result.usage);
    let sum = zeroTokens();
    for (const usage of this.usageByMessage.values()) sum = addTokens(sum, tokensOf(usage));
    return sum;
  }

  private progress(event: ProgressEvent): void {
    safeProgress(this.task, event);
  }
}

function safeProgress(task: AgentTask, event: ProgressEvent): void {
  try {
    task.progress(event);
  } catch {
    // a failing progress sink must not break the task
  }
}

function tokensOf(usage: Usage): Tokens {
  const n = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.round(v) : 0);
  // Claude reports thinking tokens inside output_tokens, not separately.
  return {
    input: n(usage.input_tokens),
    output: n(usage.output_tokens),
    reasoning: 0,
    cache_read: n(usage.cache_read_input_tokens),
    cache_write: n(usage.cache_creation_input_tokens),
  };
}

/** A tool_result's content: a string, or a list of blocks (text, image, ...). */
function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content
      .map((part: { type?: string; text?: string }) => (part?.type === 'text' ? (part.text ?? '') : `[${part?.type ?? 'content'}]`))
      .join('\n');
  }
  return content === undefined || content === null ? '' : JSON.stringify(content);
}

/** A tool's input with long strings cut, so a Write of a large file does not bloat the result. */
function compactInput(input: unknown, depth = 0): unknown {
  if (typeof input === 'string') return truncate(input, MAX_INPUT_STRING);
  if (Array.isArray(input)) {
    const items = input.slice(0, 50).map((item) => compactInput(item, depth + 1));
    return input.length > 50 ? [...items, `… ${input.length - 50} more items`] : items;
  }
  if (input && typeof input === 'object') {
    if (depth >= 4) return truncate(JSON.stringify(input), MAX_INPUT_STRING);
    return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, compactInput(v, depth + 1)]));
  }
  return input;
}

/** One line for progress: "Bash: npm test", "Write: /ws/a.txt". */
function describeToolCall(tool: string, input: unknown): string {
  const fields = (input ?? {}) as Record<string, unknown>;
  const main =
    fields.command ?? fields.file_path ?? fields.notebook_path ?? fields.path ?? fields.pattern ?? fields.url ?? fields.description ?? fields.prompt;
  const text = typeof main === 'string' && main ? main : JSON.stringify(fields);
  return truncate(`${tool}: ${text}`, 300);
}

// ---------------------------------------------------------------------------------------------------------
// Deciding the outcome

function interpret(run: {
  stream: StreamReader;
  outcome: ProcessOutcome;
  started: number;
  timeoutMs: number;
  secrets: string[];
  home: string;
  task: AgentTask;
}): AgentOutcome {
  const { stream, outcome, secrets } = run;
  const result = stream.result;
  const base: AgentOutcome = {
    success: false,
    summary: truncate(sanitize(typeof result?.result === 'string' ? result.result : stream.lastAssistantText(), secrets), MAX_SUMMARY),
    backend_session_id: stream.sessionId,
    tokens: stream.tokens(),
    cost: typeof result?.total_cost_usd === 'number' && result.total_cost_usd > 0 ? result.total_cost_usd : 0,
    duration_ms: Date.now() - run.started,
    num_turns: typeof result?.num_turns === 'number' ? result.num_turns : undefined,
    tool_calls: stream.finalToolCalls(),
  };

  if (stream.authFailure) {
    throw new CodingError(
      `the model API rejected Claude Code's credentials (HTTP ${stream.authFailure.status}, ${stream.authFailure.error}): ` +
        `check ANTHROPIC_API_KEY (coding.claudecode.env or the worker environment) or the claude login under ${run.home}`,
      'auth',
      false,
    );
  }
  // We stopped it: whatever it wrote after its tools were killed (even a "success" result) is not a finished task.
  if (outcome.timedOut) return { ...base, error: `timed out after ${Math.round(run.timeoutMs / 1000)}s` };
  if (outcome.cancelled) return { ...base, error: 'cancelled' };

  if (!result) {
    const stderr = sanitize(outcome.stderrTail, secrets).trim();
    const how = outcome.signal ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
    throw new CodingError(
      truncate(`Claude Code ${how} without a result${stderr ? `: ${stderr.slice(-1500)}` : ''}`, 2000),
      'unavailable',
      true,
    );
  }

  const apiStatus = result.api_error_status ?? undefined;
  if (result.is_error && (apiStatus === 401 || apiStatus === 403)) {
    throw new CodingError(
      truncate(`the model API refused the request (HTTP ${apiStatus}): ${sanitize(result.result ?? '', secrets)}`, 2000),
      'auth',
      false,
    );
  }
  // is_error wins over the subtype: an API error still ends with subtype "success".
  if (!result.is_error && result.subtype === 'success') return { ...base, success: true };
  return { ...base, summary: base.summary || stream.lastAssistantText(), error: truncate(sanitize(failureOf(result), secrets), 2000) };
}

function failureOf(result: ResultEvent): string {
  const details = [...(result.errors ?? []), ...(typeof result.result === 'string' ? [result.result] : [])].join('; ');
  switch (result.subtype) {
    case 'error_max_turns':
      return (
        `Claude Code stopped after ${result.num_turns ?? 'the maximum number of'} turns (--max-turns): ` +
        'raise coding.claudecode.max_turns to let it go further, or split the task'
      );
    case 'error_max_budget_usd':
      return `budget exceeded: Claude Code stopped at its --max-budget-usd guard${details ? ` (${details})` : ''}`;
    case 'error_during_execution':
      return `Claude Code failed during execution${details ? `: ${details}` : ''}`;
    default:
      if (result.api_error_status) return `the model API returned HTTP ${result.api_error_status}${details ? `: ${details}` : ''}`;
      return `Claude Code reported an error (${result.subtype ?? 'unknown'})${details ? `: ${details}` : ''}`;
  }
}
