// The floors of src/, checked: nothing imports from a higher floor, nothing imports in a circle. The table
// below is the rule file; a new folder must be given its floor here (the test fails until it is).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { ROOT } from '../support/root.js';

/** Lowest floor first; the first prefix that matches a path under src/ decides. */
const FLOORS: Array<[floor: number, name: string, prefixes: string[]]> = [
  [0, 'ground', ['contract.ts', 'contract-schemas.ts', 'core/', 'text.ts', 'retry.ts', 'paths.ts']],
  [1, 'mechanisms', ['process/', 'checks/', 'git/', 'forge/', 'secrets/', 'telemetry/', 'config.ts', 'temporal-config.ts', 'nats/protocol.ts', 'nats/connection.ts']],
  [2, 'agents', ['runners/']],
  [3, 'backends', ['backends/']],
  [4, 'temporal', ['activities/', 'workflows/', 'host/']],
  [5, 'faces and programs', ['client/', 'mcp/', 'nats/agent/', 'worker.ts', 'index.ts', 'build/']],
];

const SRC = join(ROOT, 'src');
const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [relative(SRC, path)] : [];
  });
}

function floorOf(file: string): [number, string] | undefined {
  for (const [floor, name, prefixes] of FLOORS) if (prefixes.some((p) => file === p || file.startsWith(p))) return [floor, name];
  return undefined;
}

function importsOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => normalize(join(dirname(file), (m[1] ?? m[2])!)).replace(/\.js$/, '.ts'));
}

/** Strongly connected components with more than one file (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('layers of src/', () => {
  const files = sourceFiles(SRC);
  const graph = new Map(files.map((f) => [f, importsOf(f)]));

  it('every file has a floor', () => {
    assert.deepEqual(
      files.filter((f) => !floorOf(f)),
      [],
      'give these a floor in FLOORS (test/layers.test.ts)',
    );
  });

  it('no file imports from a higher floor', () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const [from, fromName] = floorOf(file) ?? [Infinity, '?'];
      for (const target of targets) {
        const [to, toName] = floorOf(target) ?? [-1, '?'];
        if (to > from) upward.push(`${file} (${fromName}) imports ${target} (${toName})`);
      }
    }
    assert.deepEqual(upward, []);
  });

  it('no imports in a circle', () => {
    assert.deepEqual(circles(graph), []);
  });
});
