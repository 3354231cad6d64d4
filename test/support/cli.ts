// The `station-coding` command as a user runs it: through pipes (`cli`), or at a terminal (`inTerminal`: a
// pseudo-terminal made by util-linux `script`, so that the command sees a TTY on stdout and stderr, of a set size).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { BIN } from './world.js';
import { waitFor } from './helpers.js';

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

type Env = Record<string, string | undefined>;

/** The environment of a command: this process's, with `env` on top (an undefined value removes the variable). */
function childEnv(env: Env): NodeJS.ProcessEnv {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  return merged;
}

export function cli(args: string[], env: Env): Promise<Ran> {
  return new Promise((resolve) => {
    execFile('node', [BIN.stationCoding, ...args], { env: childEnv(env), timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** A config file holding `coding` (and a section of another program, which must be left alone). */
export function writeConfig(coding: Record<string, unknown>): string {
  const path = join(mkdtempSync(join(tmpdir(), 'station-config-')), 'config.yaml');
  writeFileSync(path, YAML.stringify({ coding, other_station_section: { kept: true } }));
  return path;
}

/** A command running at a terminal: what it has written so far (stdout and stderr, as a terminal shows both). */
export interface AtTerminal {
  /** Everything written so far, with `\r\n` as `\n`. */
  output(): string;
  /** When (ms since the start) the output first matched `pattern` (colour codes aside). */
  seenAt(pattern: RegExp): number | undefined;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  interrupt(): void;
  exited: Promise<number>;
}

export function inTerminal(args: string[], env: Env, { columns = 100, rows = 40 } = {}): AtTerminal {
  const quoted = ['node', BIN.stationCoding, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // `script` gives the command a terminal; `stty` sets its size (a terminal made without one is 0x0).
  const child = spawn('script', ['-qfec', `stty cols ${columns} rows ${rows}; exec ${quoted}`, '/dev/null'], { env: childEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  const started = Date.now();
  let text = '';
  const seen: Array<{ at: number; text: string }> = [];
  const take = (d: Buffer) => {
    text += d.toString();
    seen.push({ at: Date.now() - started, text });
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  const output = () => text.replace(/\r\n/g, '\n');
  // Patterns are matched against what a person reads: the text without its colour codes.
  const plain = (t: string) => t.replace(/\x1b\[[0-9;]*m/g, '');
  return {
    output,
    seenAt: (pattern) => seen.find((s) => pattern.test(plain(s.text)))?.at,
    waitFor: (pattern, timeoutMs = 60_000) => waitFor(`${pattern} at the terminal; it shows:\n${output()}`, () => pattern.test(plain(text)), timeoutMs),
    // Ctrl-C as typed: the terminal sends SIGINT to the command.
    interrupt: () => child.stdin.write('\x03'),
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1))),
  };
}
