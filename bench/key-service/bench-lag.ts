import { createKafka } from '@keygate/messaging';
import { Topics, type EventEnvelope } from '@keygate/contracts';

// Outbox publish lag as a consumer sees it: the event's created_at (the envelope's `time`, stamped by
// PostgreSQL in the append's transaction) to the moment a keys.events consumer receives it.

export interface LagProbe {
  // key id → lag in ms, first receipt only (a republished duplicate does not count twice)
  lags: Map<string, number>;
  stop(): Promise<void>;
}

export const startLagProbe = async (run: string, ownerId: string, brokers: string[]): Promise<LagProbe> => {
  const kafka = createKafka(`keygate-bench-${run}`, brokers);
  const groupId = `keygate-bench-${run}`;
  // A fresh group pinned to the topic's current end: only what is published from now on, nothing missed.
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(Topics.keysEvents);
  await admin.setOffsets({
    groupId,
    topic: Topics.keysEvents,
    partitions: ends.map((p) => ({ partition: p.partition, offset: p.offset })),
  });

  const lags = new Map<string, number>();
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 1000 });
  await consumer.connect();
  await consumer.subscribe({ topics: [Topics.keysEvents] });
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  await consumer.run({
    eachBatch: async ({ batch }) => {
      const receivedAt = Date.now();
      for (const message of batch.messages) {
        const envelope = JSON.parse(message.value?.toString('utf8') ?? 'null') as EventEnvelope<
          string,
          { ownerId?: string }
        > | null;
        if (envelope?.type !== 'KeyCreated' || envelope.data.ownerId !== ownerId) continue;
        if (!lags.has(envelope.subject)) lags.set(envelope.subject, receivedAt - Date.parse(envelope.time));
      }
    },
  });
  // The lag of events published before the consumer has its partitions would measure the join, not the relay.
  await joined;
  return {
    lags,
    stop: async () => {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
};
