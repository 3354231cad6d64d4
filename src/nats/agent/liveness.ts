// An agent's liveness: agent.<id> in the agents KV bucket (TTL agent_timeout_sec), refreshed every quarter of
// that while the agent runs and listing the tasks it is on; a second process under a live id is refused.
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { CodingError } from '../../core/errors.js';
import { errorLine } from '../../text.js';
import { AgentRecord, PROTOCOL_VERSION, agentKey, decodeWith, encode } from '../protocol.js';
import type { AgentContext } from './context.js';

export class Liveness {
  private timer?: NodeJS.Timeout;
  private windingDown = false;

  constructor(
    private readonly ctx: AgentContext,
    /** The tasks the agent is on (their ids). */
    private readonly running: () => string[],
    private readonly startedAt: string,
  ) {}

  /** Refuse to run twice under one id: a live process keeps refreshing agent.<id>; a dead one's key expires. */
  async claimIdentity(): Promise<void> {
    const { ctx } = this;
    const { agents } = ctx.link;
    const first = await agents.get(agentKey(ctx.id));
    if (!first || first.operation !== 'PUT') return;
    const previous = decodeWith(AgentRecord, first.value);
    ctx.log({ event: 'waiting_for_previous_incarnation', previous: previous?.incarnation, seconds: ctx.settings.agent_timeout_sec });
    const deadline = Date.now() + ctx.settings.agent_timeout_sec * 1000 + 2000;
    while (Date.now() < deadline) {
      await sleep(500);
      const now = await agents.get(agentKey(ctx.id));
      if (!now || now.operation !== 'PUT') return;
      if (now.revision !== first.revision) {
        const other = decodeWith(AgentRecord, now.value);
        throw new CodingError(
          `agent id ${ctx.id} is in use by a running agent (host ${other?.host ?? '?'}, pid ${other?.pid ?? '?'}): give each agent its own coding.nats.agent.id`,
          'conflict',
        );
      }
    }
  }

  /** Write agent.<id> now, and again every agent_timeout_sec / 4. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat(), Math.max(1000, (this.ctx.settings.agent_timeout_sec * 1000) / 4));
  }

  async beat(): Promise<void> {
    const { ctx } = this;
    const link = ctx.connection;
    const running = this.running();
    if (!link || (this.windingDown && running.length === 0)) return;
    const record: AgentRecord = {
      v: PROTOCOL_VERSION,
      agent: ctx.id,
      incarnation: ctx.incarnation,
      backend: ctx.settings.agent.backend,
      host: hostname(),
      pid: process.pid,
      concurrency: ctx.settings.agent.concurrency,
      running,
      started_at: this.startedAt,
      seen_at: new Date().toISOString(),
    };
    try {
      await link.agents.put(agentKey(ctx.id), encode(record));
    } catch (err) {
      ctx.log({ event: 'heartbeat_failed', error: errorLine(err) });
    }
  }

  /** The agent is stopping: it stays listed only while tasks still run. */
  windDown(): void {
    this.windingDown = true;
  }

  /** Stop refreshing and remove agent.<id>: the agent is gone at once, not after the TTL. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.ctx.connection?.agents.delete(agentKey(this.ctx.id)).catch(() => {});
  }
}
