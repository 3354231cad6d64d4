// What a human view needs from the terminal: whether to print for a person at all, colour (only at a terminal, and
// never with NO_COLOR: https://no-color.org), the width to fit, and the figures people read (durations, money,
// token counts, ages). Pure except for `Terminal.of`, which reads the stream and the environment once.

export interface Terminal {
  /** Colour codes are written. */
  color: boolean;
  /** Columns to fit a line into. */
  width: number;
}

export const Terminal = {
  /** The terminal behind `stream`, or undefined when it is a pipe or a file (then output stays as it was: JSON). */
  of(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): Terminal | undefined {
    if (!stream.isTTY) return undefined;
    return { color: !env.NO_COLOR && env.TERM !== 'dumb', width: stream.columns > 20 ? stream.columns : 80 };
  },
};

const CODES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, cyan: 36 } as const;
export type Tone = keyof typeof CODES;

export function paint(term: Terminal, tone: Tone, text: string): string {
  return term.color && text ? `\x1b[${CODES[tone]}m${text}\x1b[0m` : text;
}

/** The text a person sees: without colour codes (for measuring and tests). */
export function visible(text: string): string {
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** `text` cut to `width` visible characters with an ellipsis (colour codes kept only when nothing was cut). */
export function fit(text: string, width: number): string {
  const plain = visible(text);
  if (plain.length <= width) return text;
  return width <= 1 ? plain.slice(0, width) : `${plain.slice(0, width - 1)}…`;
}

/** `text` padded with spaces to `width` visible characters. */
export function pad(text: string, width: number, align: 'left' | 'right' = 'left'): string {
  const gap = ' '.repeat(Math.max(0, width - visible(text).length));
  return align === 'left' ? text + gap : gap + text;
}

/** 850ms, 12.3s, 4m05s, 2h10m. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
}

/** $0.0123 under a dollar (agent tasks often cost cents), $12.35 above. */
export function money(usd: number | undefined): string {
  if (usd === undefined) return '-';
  return usd < 1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** 950, 12.3k, 4.5M. */
export function count(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** How long ago `iso` was, as people say it: 12s, 5m, 3h, 2d. */
export function age(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

/** A repository URL as people read it: no scheme, no `.git`. */
export function shortRepo(url: string | undefined): string {
  if (!url) return '-';
  return url.replace(/^[a-z+]+:\/\//i, '').replace(/\.git$/, '');
}
