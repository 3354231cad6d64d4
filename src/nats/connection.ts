// One NATS connection with everything opencode-nats uses on it: the task stream (a JetStream work queue),
// the sessions / state / agents KV buckets and the artifacts object store. Whoever comes first (a Temporal
// worker publishing a task, or an agent starting) creates what is missing, with the same settings, so a
// task published before any agent runs waits in the stream.
import { readFile } from 'node:fs/promises';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { z } from 'zod';
import { maskUrlCredentials, type CodingConfig } from '../config.js';
import { CodingError } from '../core/errors.js';
import { errorLine } from '../text.js';
import { STATE_TTL_MS, TaskRecord, decodeWith, natsNames, taskKey, type NatsNames } from './protocol.js';

type NatsSettings = CodingConfig['nats'];

export interface NatsLink {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  names: NatsNames;
  sessions: KV;
  state: KV;
  agents: KV;
  objects: ObjectStore;
  close(): Promise<void>;
}

const NANOS_PER_MS = 1_000_000;
const TASK_MAX_AGE_MS = 24 * 3600_000;
/** A delivered task that is neither acked nor reported in progress is redelivered after this. */
export const TASK_ACK_WAIT_MS = 30_000;

/** Connect (with the creds file when configured) and make sure the stream, buckets and object store exist. */
export async function openLink(settings: NatsSettings, name: string): Promise<NatsLink> {
  const names = natsNames(settings);
  let authenticator;
  if (settings.creds_file) {
    let creds: Uint8Array;
    try {
      creds = await readFile(settings.creds_file);
    } catch (err) {
      throw new CodingError(`coding.nats.creds_file: cannot read ${settings.creds_file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'invalid_input');
    }
    authenticator = credsAuthenticator(creds);
  }
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: settings.url.split(',').map((s) => s.trim()).filter(Boolean),
      name,
      authenticator,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      timeout: 10_000,
    });
  } catch (err) {
    throw new CodingError(`cannot connect to NATS at ${maskUrlCredentials(settings.url)}: ${errorLine(err)}`, 'unavailable', true);
  }
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await ensureStream(jsm, names);
    const kvm = new Kvm(js);
    const [sessions, state, agents] = await Promise.all([
      kvm.create(names.buckets.sessions, { history: 1, description: 'station-coding: which coding agent holds each session' }),
      kvm.create(names.buckets.state, { history: 1, ttl: STATE_TTL_MS, description: 'station-coding: task claims and results by task id' }),
      kvm.create(names.buckets.agents, { history: 1, ttl: settings.agent_timeout_sec * 1000, description: 'station-coding: coding agent liveness' }),
    ]);
    const objects = await new Objm(js).create(names.buckets.objects, { ttl: STATE_TTL_MS * NANOS_PER_MS, description: 'station-coding: task artifacts' });
    return {
      nc,
      js,
      jsm,
      names,
      sessions,
      state,
      agents,
      objects,
      async close() {
        if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close().catch(() => {});
    if (err instanceof CodingError) throw err;
    throw new CodingError(`NATS JetStream at ${maskUrlCredentials(settings.url)} is not usable: ${errorLine(err)} (is the server started with -js?)`, 'unavailable', true);
  }
}

async function ensureStream(jsm: JetStreamManager, names: NatsNames): Promise<void> {
  const subjects = [names.sharedSubject, `${names.sharedSubject}.*`];
  const info = await jsm.streams.info(names.stream).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (info) {
    if (info.config.retention !== RetentionPolicy.Workqueue) {
      throw new CodingError(`stream ${names.stream} exists but is not a work-queue stream: delete it or choose other coding.nats.subjects.task`, 'invalid_input');
    }
    return;
  }
  try {
    await jsm.streams.add({
      name: names.stream,
      subjects,
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: TASK_MAX_AGE_MS * NANOS_PER_MS,
      duplicate_window: 10 * 60_000 * NANOS_PER_MS,
      description: 'station-coding: coding tasks for nats-agent (work queue)',
    });
  } catch (err) {
    // Another process created it at the same moment.
    if (!(await jsm.streams.info(names.stream).catch(() => undefined))) throw err;
  }
}

/** A durable pull consumer with one filter subject (a work-queue stream refuses overlapping filters). */
export async function ensureConsumer(jsm: JetStreamManager, stream: string, durable: string, filter: string): Promise<void> {
  const exists = await jsm.consumers.info(stream, durable).catch((err) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (exists) return;
  try {
    await jsm.consumers.add(stream, {
      durable_name: durable,
      filter_subject: filter,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: TASK_ACK_WAIT_MS * NANOS_PER_MS,
      max_deliver: -1,
      max_ack_pending: 1000,
    });
  } catch (err) {
    if (!(await jsm.consumers.info(stream, durable).catch(() => undefined))) throw err;
  }
}

export function isNotFound(err: unknown): boolean {
  const e = err as { message?: string; code?: number; api_error?: { err_code?: number } };
  return /not found/i.test(e?.message ?? '') || e?.api_error?.err_code === 10059 || e?.api_error?.err_code === 10014;
}

/** KV create/update lost a race (the key exists, or changed since we read it). */
export function isWrongSequence(err: unknown): boolean {
  return /wrong last sequence|key exists/i.test((err as Error)?.message ?? '');
}

/** A KV entry read with its schema, and its revision; undefined when it is absent, deleted or unreadable. */
export async function readEntry<S extends z.ZodType>(kv: KV, key: string, schema: S): Promise<{ value: z.output<S>; revision: number } | undefined> {
  const entry = await kv.get(key);
  if (!entry || entry.operation !== 'PUT') return undefined;
  const value = decodeWith(schema, entry.value);
  return value === undefined ? undefined : { value, revision: entry.revision };
}

/** A task's record in the state bucket (task.<taskID>), with the revision a compare-and-set needs. */
export async function readTaskRecord(link: NatsLink, taskID: string): Promise<{ record: TaskRecord; revision: number } | undefined> {
  const entry = await readEntry(link.state, taskKey(taskID), TaskRecord);
  return entry && { record: entry.value, revision: entry.revision };
}
