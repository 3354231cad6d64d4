// Options shared by several commands, each defined once. Where an option or argument is a field of a tool's input,
// its help text is that field's description in the zod contract (src/contract.ts): the CLI, the MCP tools and the
// JSON Schemas describe a field in the same words.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { BACKENDS, CleanupPolicy, CodeInput, Credentials, LOCAL_BACKENDS, MAX_ATTEMPTS, OpenInput, type LocalBackend, type OpenInput as OpenRequest } from '../../contract.js';
import { UsageError } from './errors.js';

/** The description of a contract schema; a field without one is a gap in the contract, found by the help test. */
export function described(schema: { description?: string }): string {
  return schema.description ?? '';
}

/** Help text of a `--no-x` flag that sets the boolean input field `field` to false. */
export function negated(field: string, schema: { description?: string }): string {
  return `Sets ${field} to false (default true). ${field}: ${described(schema)}`;
}

const open = OpenInput.shape;
const RELATIVE = 'A relative path is taken from the current directory.';

/** The options of coding_open (on `open` and `run`). */
export interface OpenOptions {
  repo?: string;
  branch?: string;
  workspace?: string;
  title?: string;
  scope?: string;
  scopeId?: string;
  backend?: string;
  tokenEnv?: string;
  init?: boolean;
  cleanupPolicy?: string;
  sessionId?: string;
  requireApproval?: string[];
}

export function addOpenOptions(command: Command): Command {
  return command
    .option('--repo <url-or-path>', `${described(open.repo_url)} ${RELATIVE}`)
    .option('--branch <name>', described(open.branch))
    .option('--workspace <dir>', `${described(open.workspace_path)} ${RELATIVE}`)
    .option('--init', described(open.init))
    .option('--title <text>', described(open.title))
    .option('--scope <agent|workflow>', described(open.scope))
    .option('--scope-id <id>', described(open.scope_id))
    .option('--backend <name>', `${described(open.backend)} One of ${BACKENDS.join(', ')}.`)
    .option('--token-env <var>', described(Credentials.in.shape.token_env))
    .option('--cleanup-policy <policy>', `${described(open.cleanup_policy)} ${described(CleanupPolicy)}`)
    .option('--session-id <id>', described(open.session_id))
    .option('--require-approval <operation>', `${described(open.require_approval)} Repeat for more (push, pr).`, (value: string, all: string[] = []) => [...all, value]);
}

/** The coding_open input the open options describe (fields not given are left out, for the contract's defaults). */
export function openRequest(options: OpenOptions): OpenRequest {
  const repo = options.repo;
  const input: Record<string, unknown> = {
    // A local path given on the command line means that repository: make it absolute for the worker.
    repo_url: repo && !/^[a-z][a-z0-9+.-]*:\/\//i.test(repo) && !/^[^/]+@[^/]+:/.test(repo) && !repo.startsWith('-') ? resolve(repo) : repo,
    branch: options.branch,
    workspace_path: options.workspace ? resolve(options.workspace) : undefined,
    init: options.init,
    title: options.title,
    scope: options.scope,
    scope_id: options.scopeId,
    backend: options.backend,
    credentials: options.tokenEnv ? { token_env: options.tokenEnv } : undefined,
    cleanup_policy: options.cleanupPolicy,
    session_id: options.sessionId,
    require_approval: options.requireApproval,
  };
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as OpenRequest;
}

/** The options of a code task (on `code` and `run`). */
export interface TaskOptions {
  context?: string;
  file?: string[];
  tail?: boolean;
  checks?: boolean;
  fixRounds?: string;
  attempts?: string;
  backends?: string;
}

/** The checks and best-of-N options of a task (--checks, --fix-rounds N, --attempts N, --backends a,b) as code input fields. */
export function checkFields(options: TaskOptions): { checks?: boolean; fix_rounds?: number; attempts?: number; backends?: LocalBackend[] } {
  const fix_rounds = positiveInteger(options.fixRounds, '--fix-rounds', 'a number of rounds (1-10)');
  const attempts = positiveInteger(options.attempts, '--attempts', `a number of attempts (1-${MAX_ATTEMPTS})`);
  const backends = options.backends?.split(',').map((name) => name.trim());
  const unknown = backends?.filter((name) => !(LOCAL_BACKENDS as readonly string[]).includes(name));
  if (unknown?.length) throw new UsageError(`--backends: ${unknown.join(', ')} is not a local backend (one of ${LOCAL_BACKENDS.join(', ')}, comma-separated)`);
  return {
    ...(options.checks ? { checks: true } : {}),
    ...(fix_rounds !== undefined ? { fix_rounds } : {}),
    ...(attempts !== undefined ? { attempts } : {}),
    ...(backends ? { backends: backends as LocalBackend[] } : {}),
  };
}

export function addTaskOptions(command: Command): Command {
  return command
    .option('--context <text>', described(CodeInput.shape.context))
    .option('--file <path>', `${described(CodeInput.shape.files)} Repeat for several files.`, (path: string, files: string[] = []) => [...files, path])
    .option('--tail', "Show the backend's progress (tool calls, text) live on stderr while the task runs.")
    .option('--checks', described(CodeInput.shape.checks))
    .option('--fix-rounds <n>', described(CodeInput.shape.fix_rounds))
    .option('--attempts <n>', described(CodeInput.shape.attempts))
    .option('--backends <names>', `${described(CodeInput.shape.backends)} Comma-separated, e.g. claudecode,codex.`);
}

/** --input: a tool's whole JSON input, instead of its arguments and options. */
export function addInputOption(command: Command, tool: string): Command {
  return command.option('--input <json>', `The ${tool} JSON input (docs/contract.md, "Tool shapes"), instead of the arguments and options.`);
}

/** The --input JSON, if given. */
export function parseInput(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new UsageError(`--input is not valid JSON: ${(err as Error).message}`);
  }
}

/** A positive whole number given as `flag`, or a usage error saying what is needed. */
export function positiveInteger(value: string | undefined, flag: string, need: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`${flag} needs ${need}`);
  return Number(value);
}
