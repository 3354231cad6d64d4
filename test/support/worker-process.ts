// A worker as another host runs it: a `station-coding worker` process with its own worker_id, started from a
// config file. `npm run test:cluster` serves the suite with one in the test process and one of these.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';

export interface WorkerProcess {
  pid: number;
  stop(): Promise<void>;
}

export async function startWorkerProcess(bin: string, rawConfig: Record<string, any>, workerId: string, dir: string): Promise<WorkerProcess> {
  const configPath = join(dir, `worker-${workerId}.yaml`);
  writeFileSync(configPath, YAML.stringify({ coding: { ...rawConfig, temporal: { ...rawConfig.temporal, worker_id: workerId } } }));
  const child = spawn(process.execPath, [bin, 'worker'], { env: { ...process.env, STATION_CONFIG: configPath }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker ${workerId} did not start within 60 s: ${stderr}`)), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      if (stderr.includes('worker serving')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker ${workerId} exited with ${code}: ${stderr}`));
    });
  });
  return {
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
