// A NATS coding agent and a worker can share one config file: the agent starts with the worker's checkpoint store
// configured (coding.checkpoint.dir is for the worker's workspaces, never wrapped around the agent's own).
// Construction only: no NATS server is reached.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCodingConfig } from '../../src/config.js';
import { NatsAgent } from '../../src/nats/agent/agent.js';

describe('a NATS agent with the worker\'s config', () => {
  it('starts when coding.checkpoint.dir is set, its backend the plain local one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'station-agent-config-'));
    try {
      const config = parseCodingConfig({ workspace_base_path: join(dir, 'ws'), checkpoint: { dir: join(dir, 'checkpoints') }, nats: { url: 'nats://127.0.0.1:1' } });
      const agent = new NatsAgent({ config, log: () => {} });
      assert.ok(agent.id.length > 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
