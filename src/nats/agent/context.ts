// What every part of a coding agent works with: its identity, its settings, its log and (once started) its
// NATS connection.
import type { CodingConfig } from '../../config.js';
import type { NatsLink } from '../connection.js';

export type AgentLog = (fields: Record<string, unknown>) => void;

export class AgentContext {
  /** Set by NatsAgent.start(). */
  connection?: NatsLink;

  constructor(
    readonly id: string,
    /** This process of the agent: a restarted agent is a new incarnation of the same id. */
    readonly incarnation: string,
    readonly settings: CodingConfig['nats'],
    readonly log: AgentLog,
  ) {}

  get link(): NatsLink {
    if (!this.connection) throw new Error('agent not started');
    return this.connection;
  }
}
