import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { Topics } from '@keygate/contracts';
import { EventConsumer } from '@keygate/messaging';
import { KeyProjectionConsumer } from './key-projection.consumer';
import type { KeyProjectionStore } from './key-projection.store';

// Short, renewed often: a holder that died (a gateway that exited mid-start) blocks the next replay for 15 s at most.
const LOCK_TTL_MS = 15_000;
const RENEW_EVERY_MS = 3_000;

export interface ReplayResult {
  events: number;
  wiped: number;
}

// Rebuilds the Redis projection from keys.events under the replay lock (the healer and `rebuild-projection` share
// it): optionally wipes it, folds the topic from offset 0 up to the offsets it had once the lock was held, marks the
// projection complete and tells every instance to drop its cache. While the lock is held the live fold writes
// nothing and commits no offset, so an event published during the replay is folded by it after, never lost.
// Returns null when another replayer holds the lock.
export const replayProjection = async (
  kafka: Kafka,
  store: KeyProjectionStore,
  { wipe = false }: { wipe?: boolean } = {},
): Promise<ReplayResult | null> => {
  const token = await store.lockReplay(LOCK_TTL_MS);
  if (!token) return null;
  let lost: Error | undefined;
  const renew = setInterval(() => {
    store
      .renewReplay(token, LOCK_TTL_MS)
      .then((held) => {
        if (!held) lost = new Error('the replay lock was lost (expired or taken over)');
      })
      .catch(() => undefined);
  }, RENEW_EVERY_MS);
  try {
    const wiped = wipe ? await store.wipe() : 0;
    // Every instance drops what it cached: a key is served again only once the replay has restored it.
    if (wipe) await store.publishChange({ all: true });
    const events = await foldTopic(kafka, store, () => lost);
    if (lost) throw lost;
    await store.markComplete();
    await store.publishChange({ all: true });
    return { events, wiped };
  } finally {
    clearInterval(renew);
    await store.unlockReplay(token).catch(() => undefined);
  }
};

// Folds keys.events from offset 0 through a throwaway consumer group (the live projection's offsets are not
// touched) up to the end offsets read now.
const foldTopic = async (
  kafka: Kafka,
  store: KeyProjectionStore,
  lost: () => Error | undefined,
): Promise<number> => {
  const admin = kafka.admin();
  await admin.connect();
  const targets = new Map(
    (await admin.fetchTopicOffsets(Topics.keysEvents)).map((p) => [p.partition, BigInt(p.high)]),
  );
  await admin.disconnect();
  const pending = new Set([...targets].filter(([, high]) => high > 0n).map(([p]) => p));
  let events = 0;
  const consumer = new EventConsumer(kafka);
  const projector = new KeyProjectionConsumer(consumer, store, 'unused', 'replay');
  try {
    await new Promise<void>((resolve, reject) => {
      if (pending.size === 0) return resolve();
      consumer
        .start({
          groupId: `gateway-replay-${randomBytes(4).toString('hex')}`,
          topics: [Topics.keysEvents],
          fromBeginning: true,
          maxBytesPerPartition: 8 * 1024 * 1024,
          handle: async (batch) => {
            const stop = lost();
            if (stop) return reject(stop);
            await projector.applyAll(batch);
            events += batch.length;
            for (const e of batch)
              if (BigInt(e.offset) + 1n >= (targets.get(e.partition) ?? 0n)) pending.delete(e.partition);
            if (pending.size === 0) resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.stop();
  }
  return events;
};
