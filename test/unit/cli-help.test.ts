// The command line documents itself: every command of the program is in the command table of docs/cli.md with every one
// of its options (and the table names no command the program lacks), and `station-coding <command> --help` lists
// them. No servers: the program is only built and asked for help.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { allCommands, createProgram } from '../../src/client/cli.js';

import { ROOT } from '../support/root.js';
const BIN = join(ROOT, 'bin', 'station-coding.js');

const program = createProgram();
/** The commands a user runs: `run`, ..., `server stop` (not the group `server`), by their path under the program. */
const commands = new Map(
  allCommands(program)
    .filter((c) => c !== program && c.commands.length === 0)
    .map((c) => [pathOf(c), c] as const),
);
const globals = longFlags(program);

function pathOf(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c && c !== program; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

function longFlags(command: Command): string[] {
  return command.options.map((o) => o.long!).filter((flag) => flag !== '--help');
}

/** The "## Commands" section of docs/cli.md, and its table: the command cell of each row, by command path. */
function documentedCommands(): { section: string; rows: Map<string, string> } {
  const doc = readFileSync(join(ROOT, 'docs', 'cli.md'), 'utf8');
  const start = doc.indexOf('\n## Commands\n');
  assert.ok(start >= 0, 'docs/cli.md has a "## Commands" section');
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start + 1, end < 0 ? undefined : end);
  const rows = new Map<string, string>();
  for (const [, cell] of section.matchAll(/^\| `([^`]+)` \|/gm)) {
    const words: string[] = [];
    for (const token of cell!.split(' ')) {
      if (!/^[a-z][a-z-]*$/.test(token)) break;
      words.push(token);
    }
    const path = words.join(' ');
    assert.ok(!rows.has(path), `docs/cli.md lists ${path} twice`);
    rows.set(path, cell!);
  }
  return { section, rows };
}

function help(path: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...path.split(' ').filter(Boolean), '--help'], { timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('station-coding help and the command table of docs/cli.md', () => {
  it('every option and argument of every command has a description', () => {
    for (const command of allCommands(program)) {
      assert.ok(command === program || command.description(), `${pathOf(command)} has a description`);
      for (const option of command.options) assert.ok(option.description.trim(), `${pathOf(command)} ${option.flags} has a description`);
      for (const argument of command.registeredArguments) assert.ok(argument.description.trim(), `${pathOf(command)} <${argument.name()}> has a description`);
    }
  });

  it('the docs/cli.md table lists exactly the commands of the program, each with all of its options and arguments', () => {
    const { rows } = documentedCommands();
    assert.deepEqual([...rows.keys()].sort(), [...commands.keys()].sort(), 'commands in the docs/cli.md table');
    for (const [path, command] of commands) {
      const cell = rows.get(path)!;
      const listed = new Set(cell.match(/--[a-z][a-z-]*/g) ?? []);
      for (const flag of longFlags(command)) assert.ok(listed.has(flag), `docs/cli.md: ${path} is missing ${flag}`);
      for (const flag of listed) assert.ok(longFlags(command).includes(flag) || globals.includes(flag), `docs/cli.md: ${path} has no option ${flag}`);
      for (const argument of command.registeredArguments) assert.ok(cell.includes(argument.name()), `docs/cli.md: ${path} is missing <${argument.name()}>`);
    }
  });

  it('docs/cli.md names the global options', () => {
    const { section } = documentedCommands();
    assert.deepEqual([...globals].sort(), ['--config', '--json', '--verbose']);
    for (const flag of globals) assert.ok(section.includes(`\`${flag}`), `docs/cli.md Commands section names ${flag}`);
  });

  it('`station-coding <command> --help` exits 0 and lists the options of the command and the global ones', async () => {
    for (const [path, command] of commands) {
      const ran = await help(path);
      assert.equal(ran.code, 0, `${path} --help: exit ${ran.code}\n${ran.stderr}`);
      assert.match(ran.stdout, new RegExp(`^Usage: station-coding ${path} `, 'm'), `${path} --help prints the help of ${path}`);
      for (const flag of [...longFlags(command), ...globals]) assert.match(ran.stdout, new RegExp(`^ +${flag}\\b`, 'm'), `${path} --help lists ${flag}`);
      assert.equal(ran.stderr, '');
    }
    const top = await help('');
    assert.equal(top.code, 0);
    for (const path of commands.keys()) assert.match(top.stdout, new RegExp(`^ +${path.split(' ')[0]}\\b`, 'm'), `--help lists ${path}`);
  });
});
