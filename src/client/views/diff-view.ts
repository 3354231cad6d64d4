// `station-coding diff` at a terminal: the files with their counts (as `git diff --stat` reads), then the patch
// coloured as git colours it: additions green, deletions red, hunk headers cyan, file headers bold.
import type { DiffResult } from '../../contract.js';
import { fit, paint, type Terminal } from './terminal.js';

export function diffView(diff: DiffResult, term: Terminal): string {
  const lines: string[] = [];
  const from = diff.base.slice(0, 10);
  const to = diff.uncommitted ? 'the working tree' : (diff.head?.slice(0, 10) ?? 'HEAD');
  if (diff.files.length === 0) return `No changes from ${from} to ${to}.`;
  lines.push(paint(term, 'bold', `${diff.files_changed} file${diff.files_changed === 1 ? '' : 's'} changed from ${from} to ${to}: `) + `${paint(term, 'green', `+${diff.insertions}`)} ${paint(term, 'red', `-${diff.deletions}`)}`);
  const width = Math.max(...diff.files.map((f) => label(f).length));
  for (const file of diff.files) {
    const counts = file.binary ? 'binary' : `${paint(term, 'green', `+${file.insertions}`)} ${paint(term, 'red', `-${file.deletions}`)}`;
    lines.push(fit(` ${label(file).padEnd(width)}  ${counts}`, term.width));
  }
  lines.push('');
  for (const line of diff.patch.replace(/\n$/, '').split('\n')) lines.push(colourLine(line, term));
  return lines.join('\n');
}

function label(file: DiffResult['files'][number]): string {
  const status = file.status === 'added' ? 'A' : file.status === 'deleted' ? 'D' : file.status === 'renamed' ? 'R' : 'M';
  return `${status} ${file.old_path ? `${file.old_path} → ` : ''}${file.path}`;
}

function colourLine(line: string, term: Terminal): string {
  if (/^(diff --git|index |--- |\+\+\+ |new file|deleted file|similarity|rename )/.test(line)) return paint(term, 'bold', line);
  if (line.startsWith('@@')) return paint(term, 'cyan', line);
  if (line.startsWith('+')) return paint(term, 'green', line);
  if (line.startsWith('-')) return paint(term, 'red', line);
  if (line.startsWith('[patch cut at')) return paint(term, 'yellow', line);
  return line;
}
