// Finding the binaries the program runs: on PATH, or the binary of an npm package installed beside us.
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';

export function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The full path of `name` on PATH, or undefined. */
export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** The binary `bin` declared by the installed npm package `pkg`, or undefined when it is not installed. */
export function packageBin(pkg: string, bin: string): string | undefined {
  try {
    const pkgPath = createRequire(import.meta.url).resolve(`${pkg}/package.json`);
    const manifest = JSON.parse(readFileSync(pkgPath, 'utf8')) as { bin?: string | Record<string, string> };
    const relative = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[bin];
    const full = relative ? resolve(dirname(pkgPath), relative) : undefined;
    return full && existsSync(full) ? full : undefined;
  } catch {
    return undefined; // not installed as a dependency
  }
}

/**
 * The binary to run for a configured path or name. The default name that is not on PATH falls back to the
 * binary of the npm package that ships it (a dependency of this one), so a plain `npm install` is enough.
 */
export function resolveBinary(configured: string | undefined, defaultName: string, pkg: string): string {
  const name = configured?.trim() || defaultName;
  if (name !== defaultName || onPath(name)) return name;
  return packageBin(pkg, defaultName) ?? name;
}
