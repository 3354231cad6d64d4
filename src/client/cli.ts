// The `station-coding` command line, declared with commander: every command and option is defined once (here and in
// src/client/cli/), and the help of the program and of each command (`station-coding <command> --help`) is generated
// from those definitions; option texts for tool inputs are the zod descriptions of src/contract.ts. The command
// table of docs/cli.md is checked against this program by test/unit/cli-help.test.ts.
//
// Exit codes: 0 success (and --help), 1 error (one line on stderr, prefixed `station-coding: `), 2 usage error, and
// help printed because no command was given.
import { Command, type Argument } from 'commander';
import type { Finish } from './cli/context.js';
import { fromCommander, HelpShown } from './cli/errors.js';
import { addHostCommands } from './cli/host-commands.js';
import { addRunCommand } from './cli/run-command.js';
import { addToolCommands } from './cli/tool-commands.js';
import { addWatchCommand } from './cli/watch-command.js';
import { addReviewCommands } from './cli/review-commands.js';

export { reportError, UsageError } from './cli/errors.js';

const TEMPORAL = `
Temporal: TEMPORAL_* variables, coding.temporal or a temporal.toml profile (address, namespace, TLS, API key);
without an address an embedded dev server is started (and kept for the next command; \`station-coding server
stop\` stops it).`;

/** The whole command line. `finish` receives the exit code of the command that ran. */
export function createProgram(finish: Finish = () => {}): Command {
  const program = new Command('station-coding')
    .description('Durable coding sessions on Temporal: Claude Code and OpenCode backends behind one workflow contract.')
    .option('--config <file>', 'Config file (else $STATION_CONFIG, else $XDG_CONFIG_HOME/station/config.yaml, i.e. ~/.config/station/config.yaml).')
    .option('--verbose', 'Log connection and worker details; print the stack of an unexpected error.')
    .option('--json', 'Print JSON: the tool commands\' results at a terminal too (through a pipe they are JSON anyway), the report of run, the checks of doctor, --tail progress and watch as JSON lines.')
    // Settings copied to every command defined after them.
    .helpOption('-h, --help', 'Show help for the command.')
    .helpCommand('help [command]', 'Show help for a command.')
    // The command list shows each command with its arguments ("[options]" is said by each command's own help).
    .configureHelp({ showGlobalOptions: true, subcommandTerm: (c) => [c.name(), ...c.registeredArguments.map(argumentTerm)].join(' ') })
    // Errors are printed once, as one line, by reportError (bin/station-coding.js); help asked for goes to stdout.
    .configureOutput({ outputError: () => {}, writeErr: () => {} })
    .addHelpText('after', TEMPORAL);
  addRunCommand(program, finish);
  addToolCommands(program, finish);
  addWatchCommand(program, finish);
  addReviewCommands(program, finish);
  addHostCommands(program, finish);
  for (const command of allCommands(program)) command.exitOverride((err) => {
    throw fromCommander(err, command);
  });
  return program;
}

/** `<name>`, `[name]` or `[name...]`, as commander writes an argument in a usage line. */
function argumentTerm(argument: Argument): string {
  const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
  return argument.required ? `<${name}>` : `[${name}]`;
}

/** The program and every command under it, depth first. */
export function allCommands(command: Command): Command[] {
  return [command, ...command.commands.flatMap(allCommands)];
}

/** Run the command line `argv` (without node and the script); resolves to the exit code, rejects with the error to report. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = createProgram((c) => (code = c));
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof HelpShown) return err.exitCode;
    throw err;
  }
  return code;
}
