// The tool commands: one per tool of the contract (open, code, branch, commit, push, diff, pr, close, status), plus list and
// cancel. Each prints the tool's JSON result (with --json, or whenever its output is not a terminal: scripts and
// agents read exactly the contract) or, at a terminal, its reading for a person (src/client/views/). Each also
// takes the tool's whole JSON input as --input. The request is built (and a usage error raised) before anything
// connects.
import type { Command } from 'commander';
import { BranchInput, CancelInput, CloseInput, CodeInput, CommitInput, DiffInput, PrInput, PushInput, SessionId } from '../../contract.js';
import type { CodingClient } from '../client.js';
import { diffView } from '../views/diff-view.js';
import { resultLine } from '../views/result-lines.js';
import { sessionTable } from '../views/session-table.js';
import { statusView } from '../views/status-view.js';
import { Terminal } from '../views/terminal.js';
import { prepare, withConnection, type Finish } from './context.js';
import { UsageError } from './errors.js';
import { addInputOption, addOpenOptions, addTaskOptions, checkFields, described, negated, openRequest, parseInput, positiveInteger, type OpenOptions, type TaskOptions } from './options.js';
import { taskFeed } from './tail.js';

type Input = { input?: string };
type Call = (client: CodingClient) => Promise<unknown>;
type Human = (result: any, term: Terminal) => string;

/** A call that printed its own output (diff --patch): nothing more to print. */
const NOTHING_MORE = Symbol('printed');

/** Connect, make the call, print its result: for a person at a terminal (`human`), else as JSON. */
async function call(command: Command, fn: Call, human: Human): Promise<number> {
  const prepared = await prepare(command);
  const result = await withConnection(prepared, ({ client }) => fn(client));
  if (result === NOTHING_MORE) return 0;
  const term = prepared.globals.json ? undefined : Terminal.of(process.stdout);
  console.log(term ? human(result, term) : JSON.stringify(result, null, 2));
  return 0;
}

/** A usage error naming what `command` is missing. */
function missing(command: Command, what: string): never {
  throw new UsageError(`${command.name()} needs ${what} (see station-coding ${command.name()} --help)`);
}

/** The session id: from --input if given, else the first argument. */
function sessionOf(command: Command, input: Record<string, unknown> | undefined, argument: string | undefined): string {
  return (input?.session_id as string | undefined) ?? argument ?? missing(command, 'a session id');
}

const SESSION = described(SessionId);

/** The states `list` shows: a session's own, or how its workflow ended otherwise. */
const LIST_STATES = ['opening', 'open', 'awaiting_approval', 'closing', 'closed', 'failed', 'cancelled', 'terminated', 'timed_out'];

export function addToolCommands(program: Command, finish: Finish): void {
  const act =
    <A extends unknown[]>(build: (...args: A) => Call, human: Human) =>
    async (...args: A) => {
      const command = args.at(-1) as Command;
      finish(await call(command, build(...args), human));
    };

  addInputOption(addOpenOptions(program.command('open').description('Open a coding session (tool coding_open); prints its session_id, workspace_path, branch, backend.')), 'coding_open').action(
    act((options: OpenOptions & Input) => {
      const input = parseInput(options.input) ?? openRequest(options);
      return (client) => client.open(input as never);
    }, resultLine.open),
  );

  addInputOption(
    addTaskOptions(
      program
        .command('code')
        .description('Run a coding task in the session (tool code) and print its result.')
        .argument('[session_id]', SESSION)
        .argument('[instruction...]', described(CodeInput.shape.instruction)),
    ),
    'code',
  ).action(
    act((id: string | undefined, words: string[], options: TaskOptions & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const request = input ?? { session_id, instruction: words.join(' '), context: options.context, files: options.file, ...checkFields(options) };
      const feed = taskFeed(command.optsWithGlobals().json, options.tail);
      return async (client) => {
        feed.start();
        try {
          return await client.code(request as never, feed.onProgress, feed.onLive);
        } finally {
          feed.end();
        }
      };
    }, resultLine.code),
  );

  addInputOption(
    program
      .command('branch')
      .description('Create or switch to a branch in the session (tool coding_branch).')
      .argument('[session_id]', SESSION)
      .argument('[branch]', described(BranchInput.shape.branch))
      .option('--create', described(BranchInput.shape.create)),
    'coding_branch',
  ).action(
    act((id: string | undefined, branch: string | undefined, options: { create?: boolean } & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const request = input ?? { session_id, branch: branch ?? missing(command, 'a branch name'), create: Boolean(options.create) };
      return (client) => client.branch(request as never);
    }, resultLine.branch),
  );

  addInputOption(
    program
      .command('commit')
      .description('Commit the changes in the workspace (tool coding_commit).')
      .argument('[session_id]', SESSION)
      .argument('[message...]', described(CommitInput.shape.message))
      .option('--no-add-all', negated('add_all', CommitInput.shape.add_all)),
    'coding_commit',
  ).action(
    act((id: string | undefined, words: string[], options: { addAll: boolean } & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const request = input ?? { session_id, message: words.join(' ') || missing(command, 'a commit message'), add_all: options.addAll };
      return (client) => client.commit(request as never);
    }, resultLine.commit),
  );

  addInputOption(
    program
      .command('push')
      .description('Push the branch to the remote (tool coding_push).')
      .argument('[session_id]', SESSION)
      .option('--remote <name>', `${described(PushInput.shape.remote)} Default origin.`)
      .option('--branch <name>', described(PushInput.shape.branch))
      .option('--no-set-upstream', negated('set_upstream', PushInput.shape.set_upstream)),
    'coding_push',
  ).action(
    act((id: string | undefined, options: { remote?: string; branch?: string; setUpstream: boolean } & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const request = input ?? { session_id, remote: options.remote ?? 'origin', branch: options.branch, set_upstream: options.setUpstream };
      return (client) => client.push(request as never);
    }, resultLine.push),
  );

  addInputOption(
    program
      .command('check')
      .description("Run the session's checks now (tool coding_check): each with passed, exit code, duration and the end of its output.")
      .argument('[session_id]', SESSION)
      .option('--name <name>', 'Run only this check; repeat for several.', (name: string, names: string[] = []) => [...names, name]),
    'coding_check',
  ).action(
    act((id: string | undefined, options: { name?: string[] } & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const request = input ?? { session_id, names: options.name };
      return (client) => client.check(request as never);
    }, resultLine.checks),
  );

  addInputOption(
    program
      .command('diff')
      .description('What the session changed (tool coding_diff): the files with insertions and deletions, and the patch; coloured at a terminal.')
      .argument('[session_id]', SESSION)
      .option('--base <ref>', described(DiffInput.shape.base))
      .option('--committed', 'Committed changes only (uncommitted: false); by default uncommitted changes and new files are included.')
      .option('--max-bytes <n>', described(DiffInput.shape.max_bytes))
      .option('--patch', 'Print only the patch, as git diff does (for git apply), at a terminal or not.'),
    'coding_diff',
  ).action(
    act(
      (id: string | undefined, options: { base?: string; committed?: boolean; maxBytes?: string; patch?: boolean } & Input, command: Command) => {
        const input = parseInput(options.input);
        const session_id = sessionOf(command, input, id);
        const max_bytes = positiveInteger(options.maxBytes, '--max-bytes', 'a number of bytes');
        const request = input ?? { session_id, base: options.base, uncommitted: !options.committed, max_bytes };
        if (!options.patch) return (client) => client.diff(request as never);
        return async (client) => {
          process.stdout.write((await client.diff(request as never)).patch);
          return NOTHING_MORE;
        };
      },
      diffView,
    ),
  );

  addInputOption(
    program
      .command('pr')
      .description('Open the pull request of the session\'s branch, or update the open one (tool coding_pr); push the branch first.')
      .argument('[session_id]', SESSION)
      .option('--title <text>', described(PrInput.shape.title))
      .option('--body <text>', described(PrInput.shape.body))
      .option('--base <branch>', described(PrInput.shape.base))
      .option('--draft', described(PrInput.shape.draft)),
    'coding_pr',
  ).action(
    act((id: string | undefined, options: { title?: string; body?: string; base?: string; draft?: boolean } & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const request = input ?? { session_id, title: options.title, body: options.body, base: options.base, draft: options.draft ?? false };
      return (client) => client.pr(request as never);
    }, resultLine.pr),
  );

  addInputOption(
    program
      .command('close')
      .description('Close the session (tool coding_close); its workspace is cleaned up as cleanup_policy says.')
      .argument('[session_id]', SESSION)
      .option('--failed', `Sets success to false. success: ${described(CloseInput.shape.success)}`),
    'coding_close',
  ).action(
    act((id: string | undefined, options: { failed?: boolean } & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const request = input ?? { session_id, success: !options.failed };
      return (client) => client.close(request as never);
    }, resultLine.close),
  );

  addInputOption(
    program
      .command('status')
      .description(
        'The session (tool coding_status): backend, repo, branch, workspace, state, tasks (each with success, files changed, duration, tokens, cost), totals, last error.',
      )
      .argument('[session_id]', SESSION),
    'coding_status',
  ).action(
    act((id: string | undefined, options: Input, command: Command) => {
      const session_id = sessionOf(command, parseInput(options.input), id);
      return (client) => client.status(session_id);
    }, statusView),
  );

  program
    .command('list')
    .description('Sessions, newest first, with state, backend, repo, branch, tasks, cost and age.')
    .option('--limit <n>', 'How many sessions to list (default 50).')
    .option('--state <state>', `Only sessions in this state: ${LIST_STATES.join(', ')}.`)
    .option('--backend <name>', 'Only sessions on this backend (claudecode, opencode, codex, ...).')
    .action(
      act(
        (options: { limit?: string; state?: string; backend?: string }) => {
          const limit = positiveInteger(options.limit, '--limit', 'a positive whole number');
          if (options.state !== undefined && !LIST_STATES.includes(options.state)) throw new UsageError(`--state must be one of ${LIST_STATES.join(', ')} (got ${JSON.stringify(options.state)})`);
          return (client) => client.list(limit ?? 50, { state: options.state, backend: options.backend });
        },
        (rows, term) => sessionTable(rows, term),
      ),
    );

  addInputOption(
    program
      .command('cancel')
      .description('Cancel task N (its number in status), else the running task (or the oldest queued one). The session stays open.')
      .argument('[session_id]', SESSION)
      .option('--task <n>', described(CancelInput.shape.task)),
    'cancel signal',
  ).action(
    act((id: string | undefined, options: { task?: string } & Input, command: Command) => {
      const input = parseInput(options.input);
      const session_id = sessionOf(command, input, id);
      const task = positiveInteger(options.task, '--task', 'a task number (status: running_task.task)');
      const { session_id: _, ...target } = input ?? (task !== undefined ? { task } : {});
      return async (client) => {
        await client.cancel(session_id, target);
        return { session_id, cancel_requested: true, ...target };
      };
    }, resultLine.cancel),
  );
}
