import type { Kafka } from 'kafkajs';
import type { Topic } from '@keygate/contracts';

export type ConsumerStart = 'earliest' | 'latest';

// Where a consumer group that has never committed starts. `earliest` (the default) ingests everything the topic
// still holds: nothing produced before usage-service's first start is lost. `latest` is for test stacks that share a
// long-lived topic with other runs: the new group is positioned at the current end *before* the service reports
// ready, so no event produced after readiness can be skipped (kafkajs' own fromBeginning: false decides that only
// at the first fetch, after an unknown delay).
export const positionNewGroup = async (
  kafka: Kafka,
  groupId: string,
  topic: Topic,
  start: ConsumerStart,
): Promise<void> => {
  if (start === 'earliest') return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    if (committed?.partitions.some((p) => p.offset !== '-1')) return;
    const ends = await admin.fetchTopicOffsets(topic);
    await admin
      .setOffsets({
        groupId,
        topic,
        partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })),
      })
      // Another instance of the group started first and already runs: its position stands.
      .catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
};
