// docker-compose.temporal.yml is checked against the Compose specification by Debian's docker-compose (`config`
// validates and renders without a daemon or a registry), and held to what `npm run test:cluster` proves: the
// server image is the version the native script builds, and the server runs with the config file it runs with.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { ROOT } from '../support/world.js';

const COMPOSE = join(ROOT, 'docker-compose.temporal.yml');
const NATIVE = join(ROOT, 'test', 'cluster', 'run.sh');

function composeConfig(file: string) {
  const run = spawnSync('docker-compose', ['-f', file, 'config'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, POSTGRES_PASSWORD: '' } });
  if (run.error) throw new Error(`docker-compose is not installed (apt-get install -y docker-compose): ${run.error.message}`);
  return run;
}

interface Service {
  image?: string;
  environment?: Record<string, string>;
  volumes?: Array<string | { source: string; target: string }>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  build?: unknown;
}

describe('docker-compose.temporal.yml', () => {
  const nativeVersion = /^TEMPORAL_SERVER_VERSION=(\S+)$/m.exec(readFileSync(NATIVE, 'utf8'))?.[1];
  let services: Record<string, Service>;

  before(function () {
    const run = composeConfig(COMPOSE);
    assert.equal(run.status, 0, `docker-compose config refused the file: ${run.stderr}`);
    services = YAML.parse(run.stdout).services;
  });

  it('is valid Compose (and the validator does refuse an invalid file)', () => {
    assert.ok(Object.keys(services).length >= 6);
    const broken = join(mkdtempSync(join(tmpdir(), 'compose-')), 'broken.yml');
    writeFileSync(broken, readFileSync(COMPOSE, 'utf8').replace('    image: postgres:', '    restart_policy: always\n    image: postgres:'));
    const run = composeConfig(broken);
    assert.notEqual(run.status, 0);
    assert.match(run.stderr, /restart_policy/);
  });

  it('runs the Temporal server and admin tools of the version the native test builds', () => {
    assert.ok(nativeVersion, 'test/cluster/run.sh names TEMPORAL_SERVER_VERSION');
    assert.equal(services.temporal.image, `temporalio/server:${nativeVersion}`);
    for (const name of ['temporal-schema', 'temporal-setup']) assert.equal(services[name].image, `temporalio/admin-tools:${nativeVersion}`);
    // Every image is pinned to a version, none floats.
    for (const [name, service] of Object.entries(services)) {
      if (service.image && !service.build) assert.match(service.image, /:\d+\.\d+(\.\d+)?$/, `${name} pins its image`);
    }
  });

  it('mounts the server config the native test starts the server with, and the same setup scripts', () => {
    const native = readFileSync(NATIVE, 'utf8');
    assert.match(native, /--config-file "\$ROOT\/deploy\/temporal\/config\.yaml"/);
    assert.match(native, /deploy\/temporal\/setup-schema\.sh/);
    assert.match(native, /deploy\/temporal\/setup-namespace\.sh/);
    const mount = (service: Service) =>
      (service.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':') : [v.source, v.target])).find(([, target]) => target === '/etc/temporal/station');
    const temporal = services.temporal;
    assert.deepEqual(mount(temporal)?.[0], join(ROOT, 'deploy', 'temporal'));
    assert.equal(temporal.environment?.TEMPORAL_SERVER_CONFIG_FILE_PATH, '/etc/temporal/station/config.yaml');
    for (const name of ['temporal-schema', 'temporal-setup']) assert.deepEqual(mount(services[name])?.[0], join(ROOT, 'deploy', 'temporal'));
    assert.match(JSON.stringify(services['temporal-schema']), /setup-schema\.sh/);
    assert.match(JSON.stringify(services['temporal-setup']), /setup-namespace\.sh/);
    // The config really is a server template for PostgreSQL with SQL visibility.
    const config = readFileSync(join(ROOT, 'deploy', 'temporal', 'config.yaml'), 'utf8');
    assert.match(config.slice(0, 1024), /^# enable-template/m);
    assert.equal((config.match(/pluginName: postgres12/g) ?? []).length, 2);
  });

  it('health checks gate the start order, and each worker has its own stable id and workspaces volume', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui']) assert.ok(services[name].healthcheck?.test.length, `${name} has a health check`);
    assert.equal(services['temporal-schema'].depends_on?.postgresql.condition, 'service_healthy');
    assert.equal(services.temporal.depends_on?.['temporal-schema'].condition, 'service_completed_successfully');
    const workers = Object.entries(services).filter(([, s]) => s.build !== undefined);
    assert.ok(workers.length >= 2);
    const ids = workers.map(([, s]) => s.environment?.STATION_WORKER_ID);
    assert.equal(new Set(ids).size, workers.length, 'distinct worker ids');
    for (const [name, s] of workers) {
      assert.equal(s.depends_on?.['temporal-setup'].condition, 'service_completed_successfully', name);
      assert.equal(s.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
    }
    // The worker image runs the worker command of this package.
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /^FROM node:20/m);
    assert.match(dockerfile, /ENTRYPOINT \["node", "bin\/station-coding\.js"\]\s+CMD \["worker"\]/);
    // The host's node_modules (other platform's binaries) and dist never enter the build context.
    assert.deepEqual(readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => ['node_modules', 'dist'].includes(l)), ['node_modules', 'dist']);
  });
});
