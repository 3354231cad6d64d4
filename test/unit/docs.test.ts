// The documentation stays true and reachable: docs/configuration.md's key table is what `station-coding config
// --keys` prints (regenerate with `npm run docs`), the README stays a page a newcomer finishes (under 15 KB), and every
// relative link of README.md, CONTRIBUTING.md and docs/ reaches a file (and a heading, when it names one). No servers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { CONFIG_DOC, keysTable, withCurrentKeys } from '../../src/build/write-config-docs.js';

import { ROOT } from '../support/root.js';

function markdownFiles(): string[] {
  const files = ['README.md', 'CONTRIBUTING.md'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.md')) files.push(join(dir, entry.name));
    }
  };
  walk('docs');
  return files;
}

/** GitHub's anchors of a markdown file's headings. */
function anchors(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  const slugs = new Set<string>();
  for (const [, heading] of text.matchAll(/^#{1,6} (.+)$/gm)) {
    slugs.add(
      heading!
        .trim()
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replaceAll(' ', '-'),
    );
  }
  return slugs;
}

describe('the documentation', () => {
  it('docs/configuration.md lists every config key as `station-coding config --keys` does (else run `npm run docs`)', () => {
    const doc = readFileSync(CONFIG_DOC, 'utf8');
    assert.equal(doc, withCurrentKeys(doc), 'docs/configuration.md is out of date: run `npm run docs`');
    const printed = execFileSync(process.execPath, [join(ROOT, 'bin', 'station-coding.js'), 'config', '--keys'], { encoding: 'utf8', timeout: 60_000 })
      .trim()
      .split('\n')
      .map((line) => line.split(/[ :]/)[0]);
    const listed = [...keysTable().matchAll(/^\| `([^`]+)` \|/gm)].map(([, key]) => key);
    assert.deepEqual(listed, printed);
  });

  it('the README is a page a newcomer finishes: under 15 KB, starting with what it is and the two test commands', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    assert.ok(Buffer.byteLength(readme) < 15_000, `README.md is ${Buffer.byteLength(readme)} bytes`);
    const tests = readme.slice(readme.indexOf('\n## Tests\n'));
    assert.match(tests, /^\n## Tests\n\n```bash\nnpm install\nnpm test\n```/);
  });

  it('every relative link reaches its file and heading', () => {
    const broken: string[] = [];
    for (const file of markdownFiles()) {
      const text = readFileSync(join(ROOT, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue; // http:, https:, mailto:
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = path ? relative(ROOT, join(ROOT, dirname(file), path)) : file;
        if (!existsSync(join(ROOT, resolved))) {
          broken.push(`${file}: ${target} (no ${resolved})`);
          continue;
        }
        if (anchor && statSync(join(ROOT, resolved)).isFile() && !anchors(resolved).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor})`);
      }
    }
    assert.deepEqual(broken, []);
  });
});
