import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource, type DataSourceOptions } from 'typeorm';
import { generateApiKey, hashApiKey, lastFour, newId, Topics, type EventEnvelope } from '@keygate/contracts';
import { createKafka, EventConsumer } from '@keygate/messaging';
import { dropDatabase, ensurePostgres, waitFor } from '@keygate/stack';
import {
  apiKeyDecider,
  type ApiKeyCommand,
  type ApiKeyContext,
  type ApiKeyEvent,
  type ApiKeyState,
} from '../../apps/key-service/src/api-keys/api-key.decider';
import { createKeysDataSource } from '../../apps/key-service/src/database/data-source';
import { CommandHandler } from '../../apps/key-service/src/event-store/command-handler';
import { EventStore, type EventRow } from '../../apps/key-service/src/event-store/event-store';

// Shared by the key-service write-side integration tests: a throwaway database with the real migrations,
// a tail of keys.events that starts at the current end of the topic, and small command builders.

export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const PG = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

export interface ThrowawayDb {
  url: string;
  db: DataSource;
  drop(): Promise<void>;
}

// One database per test file (unique name), migrated by the committed migrations, dropped at the end.
export const throwawayKeysDb = async (label: string, poolMax = 20): Promise<ThrowawayDb> => {
  const url = `${PG}/keygate_keys_it_${label}_${randomBytes(3).toString('hex')}`;
  await ensurePostgres([url], () => undefined);
  const base = createKeysDataSource(url).options as DataSourceOptions & { extra?: object };
  const db = new DataSource({ ...base, extra: { ...base.extra, max: poolMax } } as DataSourceOptions);
  await db.initialize();
  await db.runMigrations();
  return {
    url,
    db,
    drop: async () => {
      await db.destroy().catch(() => undefined);
      await dropDatabase(url);
    },
  };
};

export const commandHandler = (db: DataSource, store = new EventStore(db)): CommandHandler =>
  new CommandHandler(db, store);

export const keyContext = (): ApiKeyContext => ({
  now: new Date(),
  groupExists: () => false,
  tierExists: () => false,
  routeExists: () => false,
});

export const meta = () => ({ actor: 'it', requestId: `req_${randomUUID().replace(/-/g, '')}` });

export const createKeyCommand = (keyId = newId('key'), name = 'it key'): ApiKeyCommand => {
  const key = generateApiKey('test');
  return {
    type: 'CreateKey',
    data: {
      keyId,
      hash: hashApiKey(key),
      last4: lastFour(key),
      environment: 'test',
      name,
      ownerId: 'it',
    },
  };
};

export const renameCommand = (keyId: string, name: string): ApiKeyCommand => ({
  type: 'UpdateKey',
  data: { keyId, name },
});

// Runs one command against the key decider; `expectedVersion` is what an If-Match header carries.
export const runKeyCommand = (
  handler: CommandHandler,
  keyId: string,
  command: ApiKeyCommand,
  opts: { expectedVersion?: number; beforeDecide?: () => Promise<void> } = {},
) =>
  handler.execute(
    apiKeyDecider,
    keyId,
    command,
    async () => {
      await opts.beforeDecide?.();
      return keyContext();
    },
    meta(),
    opts.expectedVersion,
  );

export const isVersionConflict = (e: unknown): boolean =>
  (e as { code?: string } | undefined)?.code === 'VERSION_CONFLICT';

export const storedEvents = async (db: DataSource): Promise<EventRow[]> =>
  db.query(`SELECT * FROM events ORDER BY global_position`);

export const outboxCount = async (db: DataSource): Promise<number> =>
  Number((await db.query(`SELECT count(*)::int AS n FROM outbox`))[0].n);

// The state a consumer that folds with the decider's evolve ends in; events whose streamPosition is not newer
// than the state's version are skipped (STYLE.md: projections are idempotent folds).
export const foldByStreamPosition = (
  events: { subject: string; streamPosition: number; type: string; data: unknown }[],
): Map<string, ApiKeyState> => {
  const states = new Map<string, ApiKeyState>();
  for (const e of events) {
    const state = states.get(e.subject) ?? apiKeyDecider.initialState();
    if (e.streamPosition <= state.version) continue;
    states.set(e.subject, apiKeyDecider.evolve(state, { type: e.type, data: e.data } as ApiKeyEvent));
  }
  return states;
};

export interface ReceivedEvent {
  envelope: EventEnvelope;
  partition: number;
  offset: string;
  receivedAt: number;
}

export interface KeysEventsTail {
  received: ReceivedEvent[];
  of(subjects: ReadonlySet<string>): ReceivedEvent[];
  waitForIds(ids: Iterable<string>, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

// keys.events is shared by every test and running stack: a fresh consumer group is pinned to the topic's end
// offsets before anything is written, so it sees exactly what was published after this call.
export const tailKeysEvents = async (label: string): Promise<KeysEventsTail> => {
  const kafka = createKafka(`it-${label}`, KAFKA_BROKERS);
  const groupId = `it-${label}-${randomBytes(4).toString('hex')}`;
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(Topics.keysEvents);
  await admin.setOffsets({
    groupId,
    topic: Topics.keysEvents,
    partitions: ends.map((p) => ({ partition: p.partition, offset: p.offset })),
  });
  const received: ReceivedEvent[] = [];
  const consumer = new EventConsumer(kafka);
  await consumer.start({
    groupId,
    topics: [Topics.keysEvents],
    handle: async (events) => {
      const receivedAt = Date.now();
      for (const e of events)
        received.push({ envelope: e.envelope, partition: e.partition, offset: e.offset, receivedAt });
    },
  });
  return {
    received,
    of: (subjects) => received.filter((r) => subjects.has(r.envelope.subject)),
    waitForIds: async (ids, timeoutMs = 30_000) => {
      const wanted = [...ids];
      await waitFor(
        async () => {
          const seen = new Set(received.map((r) => r.envelope.id));
          return wanted.every((id) => seen.has(id));
        },
        { timeoutMs, intervalMs: 100, what: `${wanted.length} events on ${Topics.keysEvents}` },
      );
    },
    stop: async () => {
      await consumer.stop();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
};

export const byStream = <T>(items: T[], streamOf: (t: T) => string): Map<string, T[]> => {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(streamOf(item), [...(out.get(streamOf(item)) ?? []), item]);
  return out;
};

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
