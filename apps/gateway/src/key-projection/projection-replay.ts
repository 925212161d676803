import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { Topics } from '@keygate/contracts';
import { EventConsumer } from '@keygate/messaging';
import { KeyProjectionConsumer } from './key-projection.consumer';
import type { KeyProjectionStore } from './key-projection.store';

// Folds keys.events from offset 0 into Redis, up to the offsets the topic had when it started, through a
// throwaway consumer group (the live projection's committed offsets are not touched). Idempotent: documents
// already at an event's stream position skip it, so it is safe beside the live projection.
export const replayProjection = async (kafka: Kafka, store: KeyProjectionStore): Promise<number> => {
  const admin = kafka.admin();
  await admin.connect();
  const targets = new Map(
    (await admin.fetchTopicOffsets(Topics.keysEvents)).map((p) => [p.partition, BigInt(p.high)]),
  );
  await admin.disconnect();
  const pending = new Set([...targets].filter(([, high]) => high > 0n).map(([p]) => p));
  let events = 0;
  const consumer = new EventConsumer(kafka);
  const projector = new KeyProjectionConsumer(consumer, store, 'unused');
  await new Promise<void>((resolve, reject) => {
    if (pending.size === 0) return resolve();
    consumer
      .start({
        groupId: `gateway-replay-${randomBytes(4).toString('hex')}`,
        topics: [Topics.keysEvents],
        fromBeginning: true,
        maxBytesPerPartition: 8 * 1024 * 1024,
        handle: async (batch) => {
          await projector.applyAll(batch);
          events += batch.length;
          for (const e of batch)
            if (BigInt(e.offset) + 1n >= (targets.get(e.partition) ?? 0n)) pending.delete(e.partition);
          if (pending.size === 0) resolve();
        },
      })
      .catch(reject);
  });
  await consumer.stop();
  return events;
};
