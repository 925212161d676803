import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Client } from 'pg';
import { dropDatabase, ensureInfra, ensurePostgres, ensureTopics, type EnsureInfraOptions } from './index';
import { STACK_DIR, TEST_REDIS_URL } from '@keygate/testing';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
  .split(',')
  .map((b) => b.trim())
  .filter(Boolean);
const redisUrl = TEST_REDIS_URL;
const stackDir = STACK_DIR;

// Databases of this file's own, never a running stack's (keygate_keys, keygate_usage).
const suffix = randomBytes(4).toString('hex');
const keysUrl = `postgres://postgres@127.0.0.1:5432/keygate_infra_spec_keys_${suffix}`;
const usageUrl = `postgres://postgres@127.0.0.1:5432/keygate_infra_spec_usage_${suffix}`;
const topic = `keygate.infra-spec.${suffix}`;
const scratchDbUrl = (() => {
  const u = new URL(keysUrl);
  u.pathname = `/keygate_infra_spec_${suffix}`;
  return u.toString();
})();

const kafka = new Kafka({ clientId: 'infra-spec', brokers, logLevel: logLevel.NOTHING });

async function partitionCount(name: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { topics } = await admin.fetchTopicMetadata({ topics: [name] });
    return topics[0].partitions.length;
  } finally {
    await admin.disconnect();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const u = new URL(keysUrl);
  u.pathname = '/postgres';
  const client = new Client({ connectionString: u.toString() });
  await client.connect();
  try {
    return ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

describe('ensureInfra (real Kafka, PostgreSQL, Redis)', () => {
  const lines: string[] = [];
  const opts: EnsureInfraOptions = {
    kafkaBrokers: brokers,
    databaseUrls: [keysUrl, usageUrl],
    redisUrl,
    stackDir,
    topics: [{ topic, numPartitions: 2 }],
    log: (msg) => lines.push(msg),
  };

  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    for (const url of [scratchDbUrl, keysUrl, usageUrl]) await dropDatabase(url).catch(() => undefined);
  });

  it('makes everything available, then reuses it quickly and idempotently', async () => {
    await ensureInfra(opts);
    expect(await partitionCount(topic)).toBe(2);

    lines.length = 0;
    const t0 = Date.now();
    const second = await ensureInfra(opts);
    const elapsed = Date.now() - t0;

    expect(second.kafka.started).toBe(false);
    expect(second.postgres).toEqual({ started: false, created: [] });
    expect(second.redis).toEqual({ started: false });
    expect(elapsed).toBeLessThan(10_000);
    expect(lines.some((l) => l.startsWith('kafka: reusing broker'))).toBe(true);
    expect(lines.some((l) => /created|started/.test(l))).toBe(false);
    expect(await partitionCount(topic)).toBe(2);
  }, 300_000);

  it('grows a topic that has fewer partitions than asked, never shrinks it', async () => {
    await ensureTopics(brokers, [{ topic, numPartitions: 3 }]);
    expect(await partitionCount(topic)).toBe(3);
    await ensureTopics(brokers, [{ topic, numPartitions: 1 }]);
    expect(await partitionCount(topic)).toBe(3);
  }, 60_000);

  it('creates a database once and drops it even while a client is connected', async () => {
    const name = new URL(scratchDbUrl).pathname.slice(1);
    const log = (): void => undefined;
    expect((await ensurePostgres([scratchDbUrl], log)).created).toEqual([name]);
    expect((await ensurePostgres([scratchDbUrl], log)).created).toEqual([]);

    const holder = new Client({ connectionString: scratchDbUrl });
    holder.on('error', () => undefined); // it is about to be terminated
    await holder.connect();
    expect((await holder.query('SELECT current_database() AS db')).rows[0].db).toBe(name);

    await dropDatabase(scratchDbUrl);
    expect(await databaseExists(name)).toBe(false);
    await holder.end().catch(() => undefined);
  }, 60_000);

  it('round-trips a message through a fresh topic', async () => {
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    const consumer = kafka.consumer({ groupId: `infra-spec-${suffix}` });
    const value = `hello ${suffix}`;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = new Promise<{ key: string; value: string }>((resolveMessage) => {
        void consumer.run({
          eachMessage: async ({ message }) =>
            resolveMessage({ key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' }),
        });
      });
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k1', value }] });
      await expect(received).resolves.toEqual({ key: 'k1', value });
    } finally {
      await producer.disconnect();
      await consumer.disconnect();
    }
  }, 60_000);
});
