// How the command fails. Every error is one line on stderr, prefixed `station-coding: `; the exit code is 2 for a
// usage error (commander's own parse errors included: unknown command or option, missing or excess argument) and 1
// for anything else. --verbose adds the stack of an unexpected error.
import { CommanderError, type Command } from 'commander';
import { ConfigError } from '../../config.js';
import { InvalidInputError } from '../../contract.js';
import { TemporalCliMissing } from '../temporal-cli.js';

/** The command line itself is wrong: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Help was printed (--help, `help [command]`); the process exits with `exitCode`. */
export class HelpShown extends Error {
  override name = 'HelpShown';
  constructor(readonly exitCode: number) {
    super('help shown');
  }
}

/** `station-coding server stop` for the command `stop` under `server`. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * What a commander exit becomes: help shown (exit 0) for --help and `help`; else a usage error, one line. A command
 * group called alone (`server`) would have its help printed to stderr; it is named in the error instead.
 */
export function fromCommander(err: CommanderError, command: Command): Error {
  const help = err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version';
  if (help && err.exitCode === 0) return new HelpShown(0);
  const message = help
    ? `a command is needed${command.parent ? ` after '${command.name()}'` : ''}: ${command.commands.map((c) => c.name()).join(', ')}`
    : err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  return new UsageError(`${message} (see ${commandPath(command)} --help)`);
}

/** Messages a user can act on; anything else is unexpected, and --verbose prints its stack. */
function isKnown(err: unknown): boolean {
  if ([UsageError, ConfigError, InvalidInputError, TemporalCliMissing].some((k) => err instanceof k)) return true;
  // Recognised by name so that the help path does not load the Temporal client (src/client/client.ts) to compare classes.
  return err instanceof Error && err.name === 'CodingClientError';
}

/** Print `err` as one line (plus its stack with --verbose, if unexpected) and return the exit code. */
export function reportError(err: unknown, verbose: boolean): number {
  const message = err instanceof Error ? err.message : String(err);
  console.error(`station-coding: ${message.split('\n')[0]}`);
  if (verbose && !isKnown(err) && err instanceof Error && err.stack) console.error(err.stack);
  return err instanceof UsageError ? 2 : 1;
}
