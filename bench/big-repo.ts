// The bench's big repository: a history of 45 MB (40 commits of 3 incompressible files) under a small working
// tree, pushed to the git server. What a clone costs is mostly its history.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GitServer } from '../test/support/git-server.js';
import { diskUse, run } from './measure.js';

/** A repository whose history is big and its working tree small, pushed to the git server. */
export async function bigRepo(gitServer: GitServer, scratch: string, name: string) {
  const url = await gitServer.createRepo(name);
  const work = join(scratch, `${name}-seed`);
  await run('git', ['clone', '--quiet', gitServer.bareDir(name), work]);
  const ident = ['-c', 'user.name=Bench', '-c', 'user.email=bench@localhost'];
  for (let c = 0; c < 40; c++) {
    for (let f = 0; f < 3; f++) await writeFile(join(work, `blob-${f}.bin`), randomBytes(384 * 1024));
    await run('git', ['add', '--all'], { cwd: work });
    await run('git', [...ident, 'commit', '--quiet', '-m', `revision ${c}`], { cwd: work });
  }
  await run('git', ['push', '--quiet', 'origin', 'main'], { cwd: work });
  const history = await diskUse(gitServer.bareDir(name));
  const tree = (await diskUse(work)) - (await diskUse(join(work, '.git')));
  await rm(work, { recursive: true, force: true });
  return { url, history, tree };
}

