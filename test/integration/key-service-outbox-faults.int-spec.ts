import { fork, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import { Kafka, logLevel } from 'kafkajs';
import { newId, type EventEnvelope } from '@keygate/contracts';
import { createKafka, EventProducer } from '@keygate/messaging';
import { freeTestPort } from '@keygate/testing/stack/test-stack';
import { waitFor } from '@keygate/stack';
import { OutboxRelay } from '../../apps/key-service/src/outbox/outbox-relay';
import {
  byStream,
  commandHandler,
  createKeyCommand,
  foldByStreamPosition,
  isVersionConflict,
  KAFKA_BROKERS,
  outboxCount,
  renameCommand,
  runKeyCommand,
  sleep,
  storedEvents,
  tailKeysEvents,
  throwawayKeysDb,
  type KeysEventsTail,
  type ThrowawayDb,
} from './key-service-write-side.helper';

// The outbox relay under faults, against the real PostgreSQL and Kafka: a relay process killed between
// publish and delete (and at random moments), and a Kafka outage. Nothing may be lost; what is published twice
// must be harmless to a consumer that applies by stream position.

interface RelayProcess {
  child: ChildProcess;
  firstPublish: Promise<number[]>;
  exited: Promise<void>;
}

const spawnRelay = (databaseUrl: string, holdMs: number): RelayProcess => {
  const child = fork(join(__dirname, 'key-service-relay.child.ts'), [], {
    execArgv: ['-r', join(__dirname, 'key-service-relay.register.js')],
    env: { ...process.env, KEYS_DATABASE_URL: databaseUrl, RELAY_HOLD_MS: String(holdMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const firstPublish = new Promise<number[]>((resolve) =>
    child.on('message', (m: { published?: number[] }) => m.published && resolve(m.published)),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, firstPublish, exited };
};

const withTimeout = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
};

// Background writers: each creates its key, then renames it until told to stop.
const startWriters = (handler: ReturnType<typeof commandHandler>, writers: number, pauseMs: number) => {
  let stopped = false;
  const keys: string[] = [];
  const done = Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      const keyId = newId('key');
      keys.push(keyId);
      await runKeyCommand(handler, keyId, createKeyCommand(keyId, `writer ${w}`));
      for (let i = 0; !stopped; i++) {
        await runKeyCommand(handler, keyId, renameCommand(keyId, `writer ${w} #${i}`)).catch((e) => {
          if (!isVersionConflict(e)) throw e;
        });
        await sleep(pauseMs);
      }
    }),
  );
  return {
    keys,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
};

// Everything stored for `subjects` reached the topic, and a stream-position consumer folds to the store's state.
const expectDeliveredOnce = async (t: ThrowawayDb, tail: KeysEventsTail, subjects: Set<string>) => {
  const stored = (await storedEvents(t.db)).filter((e) => subjects.has(e.stream_id));
  await tail.waitForIds(
    stored.map((e) => e.event_id),
    60_000,
  );
  const published: EventEnvelope[] = tail.of(subjects).map((r) => r.envelope);
  expect(new Set(published.map((e) => e.id))).toEqual(new Set(stored.map((e) => e.event_id)));

  // Per key, the first sighting of each position comes in order 1, 2, 3, …: redelivery only ever repeats.
  for (const [keyId, events] of byStream(published, (e) => e.subject)) {
    const firsts: number[] = [];
    for (const e of events) if (!firsts.includes(e.streamPosition)) firsts.push(e.streamPosition);
    expect({ keyId, firsts }).toEqual({ keyId, firsts: firsts.map((_, i) => i + 1) });
  }
  const fromTopic = foldByStreamPosition(published);
  const fromStore = foldByStreamPosition(
    stored.map((e) => ({
      subject: e.stream_id,
      streamPosition: e.stream_position,
      type: e.type,
      data: e.data,
    })),
  );
  expect(fromTopic).toEqual(fromStore);
  return { stored, published };
};

describe('key-service outbox relay under faults', () => {
  let t: ThrowawayDb;
  let tail: KeysEventsTail;

  beforeAll(async () => {
    t = await throwawayKeysDb('faults');
    tail = await tailKeysEvents('faults');
  });

  afterAll(async () => {
    await tail?.stop();
    await t?.drop();
  });

  it('a relay killed after publishing and before deleting, and at random moments, loses nothing', async () => {
    const handler = commandHandler(t.db);
    const writers = startWriters(handler, 6, 20);
    const running: RelayProcess[] = [];
    try {
      // 1. Killed in the window between "Kafka has the batch" and "the outbox rows are deleted".
      const killedBatches: number[][] = [];
      for (let round = 0; round < 2; round++) {
        await sleep(300);
        const relay = spawnRelay(t.url, 10_000);
        running.push(relay);
        const batch = await withTimeout(relay.firstPublish, 60_000, 'the relay child to publish');
        relay.child.kill('SIGKILL');
        await relay.exited;
        const left: unknown[] = await t.db.query(
          `SELECT 1 FROM outbox WHERE global_position = ANY($1::bigint[])`,
          [batch],
        );
        expect(left).toHaveLength(batch.length); // published, yet still pending: it will go out again
        killedBatches.push(batch);
      }
      // 2. Killed at arbitrary moments while it works through a backlog (possibly inside a send).
      for (let round = 0; round < 3; round++) {
        await sleep(200);
        const relay = spawnRelay(t.url, 0);
        running.push(relay);
        await withTimeout(relay.firstPublish, 60_000, 'the relay child to publish');
        await sleep(Math.random() * 150);
        relay.child.kill('SIGKILL');
        await relay.exited;
      }
      await writers.stop();

      // 3. A clean restart drains the outbox.
      const last = spawnRelay(t.url, 0);
      running.push(last);
      await waitFor(async () => (await outboxCount(t.db)) === 0, {
        timeoutMs: 60_000,
        intervalMs: 100,
        what: 'the restarted relay to drain the outbox',
      });
      last.child.kill('SIGTERM');
      await last.exited;

      const subjects = new Set(writers.keys);
      const { published } = await expectDeliveredOnce(t, tail, subjects);
      // The killed batches really went out more than once, and that was harmless (checked above).
      const copies = new Map<number, number>();
      for (const e of published) copies.set(e.globalPosition, (copies.get(e.globalPosition) ?? 0) + 1);
      for (const gp of killedBatches.flat()) expect(copies.get(gp)).toBeGreaterThanOrEqual(2);
    } finally {
      for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
      await writers.stop().catch(() => undefined);
    }
  }, 360_000);

  // The producer's sockets go through a factory: during the "outage" every new connection goes to a closed port,
  // and the open ones are either reset (the broker died) or silently dead (a partition: no FIN, no RST, no reply).
  it.each(['reset', 'silently dead'] as const)(
    'holds events through a Kafka outage (open connections %s) and publishes them once Kafka answers again',
    async (cut) => {
      const closedPort = await freeTestPort();
      const outage = { on: false, sockets: new Set<Socket>() };
      const kafka = new Kafka({
        clientId: 'it-outage',
        brokers: KAFKA_BROKERS,
        logLevel: logLevel.NOTHING,
        connectionTimeout: 1000,
        requestTimeout: 5000,
        retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 2 },
        socketFactory: ({ host, port, onConnect }) => {
          const socket = outage.on
            ? connect({ host: '127.0.0.1', port: closedPort }, onConnect)
            : connect({ host, port }, onConnect);
          outage.sockets.add(socket);
          socket.once('close', () => outage.sockets.delete(socket));
          return socket;
        },
      });
      const warnings: string[] = [];
      const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((m: unknown) => {
        warnings.push(String(m));
      });
      const producer = new EventProducer(kafka);
      const relay = new OutboxRelay(t.db, producer, 20);
      relay.onApplicationBootstrap();
      const handler = commandHandler(t.db);
      try {
        const keys = Array.from({ length: 5 }, () => newId('key'));
        await Promise.all(keys.map((k) => runKeyCommand(handler, k, createKeyCommand(k))));
        const before = (await storedEvents(t.db)).filter((e) => keys.includes(e.stream_id));
        await tail.waitForIds(before.map((e) => e.event_id));

        outage.on = true;
        for (const s of outage.sockets)
          if (cut === 'reset') s.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
          else s.destroy(); // kafkajs only sees "end"/"error": a destroyed socket looks alive, requests time out
        const late = Array.from({ length: 3 }, () => newId('key'));
        await Promise.all(late.map((k) => runKeyCommand(handler, k, createKeyCommand(k))));
        for (let i = 0; i < 4; i++)
          for (const k of [...keys, ...late])
            await runKeyCommand(handler, k, renameCommand(k, `outage ${i}`));
        await waitFor(async () => warnings.filter((w) => /publish failed/.test(w)).length >= 2, {
          timeoutMs: 60_000,
          intervalMs: 200,
          what: 'the relay to fail and retry',
        });
        await sleep(2000);
        // Held: every event written during the outage is still in the outbox, none reached the topic.
        const written = (await storedEvents(t.db)).filter(
          (e) => late.includes(e.stream_id) || (keys.includes(e.stream_id) && e.stream_position > 1),
        );
        expect(written).toHaveLength(late.length + 4 * (keys.length + late.length));
        expect(await outboxCount(t.db)).toBe(written.length);
        const seen = new Set(tail.received.map((r) => r.envelope.id));
        expect(written.filter((e) => seen.has(e.event_id))).toEqual([]);

        outage.on = false;
        await waitFor(async () => (await outboxCount(t.db)) === 0, {
          timeoutMs: 60_000,
          intervalMs: 100,
          what: 'the relay to publish the held events after the outage',
        });
        await expectDeliveredOnce(t, tail, new Set([...keys, ...late]));
      } finally {
        outage.on = false;
        await relay.beforeApplicationShutdown();
        await producer.disconnect().catch(() => undefined);
        warn.mockRestore();
      }
    },
    180_000,
  );

  it('runs one relay per database: a second instance stands by and takes over when the first stops', async () => {
    const handler = commandHandler(t.db);
    const sent = new Map<string, number>();
    const relays = ['a', 'b'].map((name) => {
      const producer = new EventProducer(createKafka(`it-standby-${name}`, KAFKA_BROKERS));
      const sendBatch = producer.sendBatch.bind(producer);
      producer.sendBatch = async (batches) => {
        await sendBatch(batches);
        sent.set(name, (sent.get(name) ?? 0) + batches.reduce((n, b) => n + b.events.length, 0));
      };
      return { name, producer, relay: new OutboxRelay(t.db, producer, 50) };
    });
    const stopped = new Set<string>();
    try {
      for (const r of relays) r.relay.onApplicationBootstrap();
      const write = async (n: number) => {
        const ids = Array.from({ length: n }, () => newId('key'));
        await Promise.all(ids.map((k) => runKeyCommand(handler, k, createKeyCommand(k))));
        return ids;
      };
      const first = await write(10);
      await expectDeliveredOnce(t, tail, new Set(first));
      expect([...sent.keys()]).toHaveLength(1); // only the lock holder published
      const active = relays.find((r) => sent.has(r.name))!;
      await active.relay.beforeApplicationShutdown();
      stopped.add(active.name);

      const second = await write(10);
      const { published } = await expectDeliveredOnce(t, tail, new Set(second));
      expect(published).toHaveLength(second.length); // each event once: no two relays ever raced
      expect([...sent.keys()].sort()).toEqual(['a', 'b']);
    } finally {
      for (const r of relays) {
        if (!stopped.has(r.name)) await r.relay.beforeApplicationShutdown();
        await r.producer.disconnect().catch(() => undefined);
      }
    }
  }, 120_000);
});
