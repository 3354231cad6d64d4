// Where a caller's `workspace_path` may be. MCP hands this field to a model, so it is checked like any
// untrusted path: it must be an existing directory under an allowed root (coding.allowed_workspace_roots,
// default the workspace base path), after symlinks are resolved, and never one of the places whose loss or
// exposure would hurt the worker: `/`, the worker's HOME, its state directory, the workspace base itself.
import { realpath, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { resolve, sep } from 'node:path';
import { CodingError } from '../core/errors.js';
import { stateDir } from '../paths.js';

export interface WorkspaceRoots {
  /** The directory of managed workspaces (the default and only root when `allowed` is unset). */
  base_path: string;
  allowed?: string[];
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);

/** realpath, or the resolved path itself when it does not exist (a root not created yet holds nothing). */
const real = (path: string) => realpath(resolve(path)).catch(() => resolve(path));

/** The real path of an acceptable `workspace_path`, or a CodingError that says which rule it broke. */
export async function checkWorkspacePath(given: string, roots: WorkspaceRoots, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const info = await stat(given).catch(() => undefined);
  if (!info?.isDirectory()) throw new CodingError(`workspace_path ${given} is not an existing directory`, 'not_found');
  const path = await realpath(given);
  const base = await real(roots.base_path);
  const forbidden: Array<[string, string]> = [
    ['/', 'the root directory'],
    [await real(env.HOME || homedir()), "the worker's HOME"],
    [base, 'the workspace base path itself (coding.workspace_base_path)'],
  ];
  for (const [dir, what] of forbidden) {
    if (path === dir) throw new CodingError(`workspace_path ${given} is ${what}: give a repository directory`, 'invalid_input');
  }
  const state = await real(stateDir(env));
  if (inside(path, state) || inside(state, path)) {
    throw new CodingError(`workspace_path ${given} holds or is inside the worker's state directory (${state})`, 'invalid_input');
  }
  const allowed = await Promise.all((roots.allowed ?? [roots.base_path]).map(real));
  if (!allowed.some((root) => inside(path, root))) {
    throw new CodingError(
      `workspace_path ${given} is outside the allowed roots (${allowed.join(', ')}): move the repository there or add its parent to coding.allowed_workspace_roots`,
      'invalid_input',
    );
  }
  return path;
}
