// `station-coding run`: the whole job in one command (src/client/run.ts does the steps): open, branch if asked, code,
// commit what changed, push if asked, close; then a report for a person, or JSON with --json. Ctrl-C cancels the
// running task, and the session is closed as on every other path.
import type { Command } from 'commander';
import { CodeInput, CommitInput } from '../../contract.js';
import { prepare, withConnection, type Finish } from './context.js';
import { UsageError } from './errors.js';
import { addOpenOptions, addTaskOptions, checkFields, described, openRequest, type OpenOptions, type TaskOptions } from './options.js';
import { taskFeed } from './tail.js';

interface RunOptions extends OpenOptions, TaskOptions {
  newBranch?: string;
  push?: boolean;
  message?: string;
}

export function addRunCommand(program: Command, finish: Finish): void {
  const run = program
    .command('run')
    .description(
      'Open, branch, code, commit (if files changed), push, close; prints summary, files changed, commit hash and stats, cost and tokens. ' +
        'Ctrl-C cancels the running task and closes the session.',
    )
    .argument('[instruction...]', described(CodeInput.shape.instruction));
  addTaskOptions(addOpenOptions(run))
    .option('--new-branch <name>', 'Create this branch (from the checked-out one) before the task; the commit goes there.')
    .option('--push', 'Push the branch after the commit (to origin, with upstream).')
    .option('--message <text>', `${described(CommitInput.shape.message)} Default: the first line of the instruction.`)
    .addHelpText('after', '\nNeeds --repo or --workspace. Without --title the session is titled with the start of the instruction.')
    .action(async (words: string[], options: RunOptions, command: Command) => finish(await runCommand(words, options, command)));
}

async function runCommand(words: string[], options: RunOptions, command: Command): Promise<number> {
  const instruction = words.join(' ').trim();
  if (!instruction) throw new UsageError('run needs an instruction: station-coding run --repo <url> "<instruction>"');
  if (!options.repo && !options.workspace) throw new UsageError('run needs --repo <url-or-path> (or --workspace <dir>)');
  const prepared = await prepare(command);
  const human = !prepared.globals.json;
  const open = { ...openRequest(options), title: options.title ?? instruction.slice(0, 80) };
  // Loaded when the command runs (run.js brings execa): other commands, `mcp` above all, start without it.
  const [{ runTask }, { formatReport }] = await Promise.all([import('../run.js'), import('../format.js')]);
  const feed = taskFeed(prepared.globals.json, options.tail);
  return withConnection(prepared, async ({ client }) => {
    let cancel: (() => Promise<void>) | undefined;
    const onSigint = () => {
      feed.say('cancelling the running task (Ctrl-C again to quit)...');
      process.removeListener('SIGINT', onSigint);
      void cancel?.();
    };
    process.on('SIGINT', onSigint);
    try {
      const report = await runTask(
        client,
        { open, instruction, context: options.context, files: options.file, ...checkFields(options), new_branch: options.newBranch, commit_message: options.message, push: Boolean(options.push) },
        {
          onStep: human ? (line) => feed.say(line) : undefined,
          onProgress: feed.onProgress,
          onLive: feed.onLive,
          onTask: (phase) => (phase === 'start' ? feed.start() : feed.end()),
          onSession: (c) => (cancel = c),
        },
      );
      console.log(human ? formatReport(report) : JSON.stringify(report, null, 2));
      return report.error ? 1 : 0;
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  });
}
