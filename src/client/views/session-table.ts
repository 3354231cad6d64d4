// `station-coding list` at a terminal: one row per session, newest first, fitted to the terminal's width. The
// session id is never cut (it is what the next command needs); the repository, branch and title give way first.
import type { SessionListing } from '../client.js';
import { age, fit, money, pad, paint, shortRepo, visible, type Terminal, type Tone } from './terminal.js';

interface Column {
  title: string;
  cell: (row: SessionListing) => string;
  align?: 'right';
  /** May be cut to fit, down to this many characters; `cutStart`: cut at the start (a repository's name is at its end). */
  shrinkTo?: number;
  cutStart?: boolean;
  /** When the row still does not fit, columns are left out by this rank, lowest first. */
  dropRank?: number;
}

const STATE_TONES: Record<string, Tone> = { open: 'green', awaiting_approval: 'yellow', opening: 'cyan', closing: 'cyan', failed: 'red', terminated: 'red', timed_out: 'red' };

export function sessionTable(rows: SessionListing[], term: Terminal, now = Date.now()): string {
  if (rows.length === 0) return 'No sessions.';
  const columns: Column[] = [
    { title: 'SESSION', cell: (r) => r.session_id },
    { title: 'STATE', cell: (r) => r.state },
    { title: 'BACKEND', cell: (r) => r.backend ?? '-', dropRank: 6 },
    { title: 'REPO', cell: (r) => shortRepo(r.repo_url), shrinkTo: 16, cutStart: true, dropRank: 2 },
    { title: 'BRANCH', cell: (r) => r.branch ?? '-', shrinkTo: 10, dropRank: 3 },
    { title: 'TASKS', cell: (r) => String(r.tasks_run ?? 0), align: 'right', dropRank: 5 },
    { title: 'COST', cell: (r) => money(r.cost), align: 'right', dropRank: 7 },
    { title: 'AGE', cell: (r) => age(r.started, now), align: 'right', dropRank: 4 },
    { title: 'TITLE', cell: (r) => r.title ?? '', shrinkTo: 0, dropRank: 1 },
  ];
  const cells = rows.map((row) => columns.map((c) => c.cell(row)));
  // An optional column (shrinkTo 0) that is empty in every row is left out.
  const widths = columns.map((c, i) => (c.shrinkTo === 0 && cells.every((r) => !r[i]) ? 0 : Math.max(c.title.length, ...cells.map((r) => r[i]!.length))));
  shrink(widths, columns, term.width);
  const keep = columns.map((_, i) => widths[i]! > 0);
  const line = (values: string[], tones: Array<Tone | undefined> = []) =>
    values
      .map((v, i) => {
        if (!keep[i]) return undefined;
        const cut = columns[i]!.cutStart ? fitStart(v, widths[i]!) : fit(v, widths[i]!);
        const text = pad(cut, widths[i]!, columns[i]!.align === 'right' ? 'right' : 'left');
        return tones[i] ? paint(term, tones[i]!, text) : text;
      })
      .filter((v) => v !== undefined)
      .join('  ')
      .trimEnd();
  const header = paint(term, 'bold', line(columns.map((c) => c.title)));
  const body = cells.map((values, r) => line(values, columns.map((_, i) => (i === 1 ? STATE_TONES[rows[r]!.state] : undefined))));
  return [header, ...body].map((l) => (visible(l).length > term.width ? fit(l, term.width) : l)).join('\n');
}

/** Narrow the shrinkable columns, last first, then leave columns out by rank, until a row fits `width`. */
function shrink(widths: number[], columns: Column[], width: number): void {
  const total = () => widths.reduce((sum, w) => sum + w, 0) + 2 * (widths.filter((w) => w > 0).length - 1);
  for (let i = columns.length - 1; i >= 0 && total() > width; i--) {
    const floor = columns[i]!.shrinkTo;
    if (floor === undefined) continue;
    const narrower = Math.max(floor, widths[i]! - (total() - width));
    // A column narrower than its title says nothing: it is left out.
    widths[i] = narrower < columns[i]!.title.length ? 0 : narrower;
  }
  const ranked = columns.map((c, i) => ({ rank: c.dropRank, i })).filter((c) => c.rank !== undefined);
  for (const { i } of ranked.sort((a, b) => a.rank! - b.rank!)) {
    if (total() <= width) return;
    widths[i] = 0;
  }
}

/** `text` cut to `width` characters at its start, with an ellipsis. */
function fitStart(text: string, width: number): string {
  return text.length <= width ? text : `…${text.slice(text.length - width + 1)}`;
}
