// The tool commands: one per tool of the contract (open, code, branch, commit, push, close, status), plus list and
// cancel. Each prints the tool's JSON result and also takes the tool's whole JSON input as --input. The request is
// built (and a usage error raised) before anything connects.
import type { Command } from 'commander';
import { BranchInput, CancelInput, CloseInput, CodeInput, CommitInput, PushInput, SessionId } from '../../contract.js';
import type { CodingClient } from '../client.js';
import { prepare, withConnection, type Finish } from './context.js';
import { UsageError } from './errors.js';
import { addInputOption, addOpenOptions, addTaskOptions, described, negated, openRequest, parseInput, positiveInteger, type OpenOptions, type TaskOptions } from './options.js';
import { tailPrinter } from './tail.js';

type Input = { input?: string };
type Call = (client: CodingClient) => Promise<unknown>;

/** Connect, make the call, print its result as JSON. */
async function call(command: Command, fn: Call): Promise<number> {
  const prepared = await prepare(command);
  const result = await withConnection(prepared, ({ client }) => fn(client));
  console.log(JSON.stringify(result, null, 2));
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

export function addToolCommands(program: Command, finish: Finish): void {
  const act =
    <A extends unknown[]>(build: (...args: A) => Call) =>
    async (...args: A) => {
      const command = args.at(-1) as Command;
      finish(await call(command, build(...args)));
    };

  addInputOption(addOpenOptions(program.command('open').description('Open a coding session (tool coding_open); prints its session_id, workspace_path, branch, backend.')), 'coding_open').action(
    act((options: OpenOptions & Input) => {
      const input = parseInput(options.input) ?? openRequest(options);
      return (client) => client.open(input as never);
    }),
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
      const request = input ?? { session_id, instruction: words.join(' '), context: options.context, files: options.file };
      const tail = options.tail ? tailPrinter(!command.optsWithGlobals().json) : undefined;
      return (client) => client.code(request as never, tail);
    }),
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
    }),
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
    }),
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
    }),
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
    }),
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
    }),
  );

  program
    .command('list')
    .description('Sessions with state, backend, repo, branch, cost.')
    .option('--limit <n>', 'How many sessions to list (default 50).')
    .action(
      act((options: { limit?: string }) => {
        const limit = positiveInteger(options.limit, '--limit', 'a positive whole number');
        return (client) => client.list(limit ?? 50);
      }),
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
    }),
  );
}
