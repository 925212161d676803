import { type Admin, ConfigResourceTypes } from 'kafkajs';
import { quietKafka } from './kafka';
import { type InfraLog, waitFor } from './wait';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  /** Topic-level settings (e.g. retention.ms): set at creation, corrected on an existing topic. */
  config?: Readonly<Record<string, string>>;
}

const TOPICS_TIMEOUT_MS = 30_000;

/**
 * Creates the missing topics with their settings, replicated to min(3, brokers) nodes (a three-broker cluster:
 * replication factor 3 and min.insync.replicas=2, so acks=all writes survive one broker down), grows existing ones that have fewer
 * partitions than asked, corrects settings that differ from those asked (e.g. a finite retention.ms), and waits
 * until every partition has a leader. Never shrinks or deletes anything.
 */
export async function ensureTopics(
  brokers: string[],
  topics: readonly TopicSpec[],
  log?: InfraLog,
): Promise<void> {
  const wanted = new Map<string, number>();
  const configs = new Map<string, Record<string, string>>();
  for (const { topic, numPartitions, config } of topics) {
    if (!topic) throw new Error('ensureTopics: empty topic name');
    if (!Number.isInteger(numPartitions) || numPartitions < 1) {
      throw new Error(`ensureTopics: ${topic} needs a positive integer numPartitions, got ${numPartitions}`);
    }
    wanted.set(topic, Math.max(numPartitions, wanted.get(topic) ?? 0));
    configs.set(topic, { ...configs.get(topic), ...config });
  }
  if (wanted.size === 0) return;

  const admin = quietKafka(brokers, 'keygate-infra-topics', 10_000, 3).admin();
  await admin.connect();
  try {
    const { brokers: nodes } = await admin.describeCluster();
    // The brokers named count too: a node that has just joined may not be in every node's view yet.
    const replicationFactor = Math.min(3, Math.max(nodes.length, brokers.length));
    const replicated = replicationFactor >= 3 ? { 'min.insync.replicas': '2' } : {};
    const existing = new Set(await admin.listTopics());
    const toCreate = [...wanted].filter(([topic]) => !existing.has(topic));
    if (toCreate.length > 0) {
      // false = a concurrent caller created them first; fine, the metadata wait below still applies.
      await admin.createTopics({
        topics: toCreate.map(([topic, numPartitions]) => ({
          topic,
          numPartitions,
          replicationFactor,
          configEntries: Object.entries({ ...replicated, ...configs.get(topic) }).map(([name, value]) => ({
            name,
            value,
          })),
        })),
        // Our own wait below: kafkajs's gives up when a node has not heard of the topic yet (a cluster).
        waitForLeaders: false,
      });
      const rf = replicationFactor > 1 ? `, replication factor ${replicationFactor}` : '';
      log?.(`kafka: created topics ${toCreate.map(([t, n]) => `${t}(${n})`).join(', ')}${rf}`);
    }

    const present = [...wanted.keys()].filter((t) => existing.has(t));
    if (present.length > 0) {
      const { topics: meta } = await admin.fetchTopicMetadata({ topics: present });
      const toGrow = meta
        .filter((m) => m.partitions.length < (wanted.get(m.name) ?? 0))
        .map((m) => ({ topic: m.name, count: wanted.get(m.name) ?? 0, from: m.partitions.length }));
      if (toGrow.length > 0) {
        try {
          await admin.createPartitions({
            topicPartitions: toGrow.map(({ topic, count }) => ({ topic, count })),
          });
        } catch (err) {
          // A concurrent caller grew them first; the metadata wait below checks the counts either way.
          if ((err as { type?: unknown }).type !== 'INVALID_PARTITIONS') throw err;
        }
        log?.(`kafka: grew partitions ${toGrow.map((g) => `${g.topic} ${g.from}->${g.count}`).join(', ')}`);
      }
      for (const topic of present) await correctConfig(admin, topic, configs.get(topic) ?? {}, log);
    }

    const names = [...wanted.keys()];
    await waitFor(
      async () => {
        // A node that has not heard of a new topic yet answers UNKNOWN_TOPIC_OR_PARTITION: not yet, not an error.
        const { topics: meta } = await admin
          .fetchTopicMetadata({ topics: names })
          .catch(() => ({ topics: [] }));
        const led =
          meta.length === names.length &&
          meta.every(
            (m) =>
              m.partitions.length >= (wanted.get(m.name) ?? 0) && m.partitions.every((p) => p.leader >= 0),
          );
        // Named in the metadata is not yet serving: a leader KRaft has just elected can still answer
        // NOT_LEADER_OR_FOLLOWER for a moment (CI: a test's first offset lookup failed so). Ready once each
        // partition's leader answers an offset request.
        if (!led) return false;
        const answered = (topic: string) => admin.fetchTopicOffsets(topic).then(Boolean, () => false);
        return (await Promise.all(names.map(answered))).every(Boolean);
      },
      { timeoutMs: TOPICS_TIMEOUT_MS, intervalMs: 200, what: `metadata of topics ${names.join(', ')}` },
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

// DYNAMIC_TOPIC_CONFIG: a setting made on this topic (not the broker's default).
const TOPIC_CONFIG_SOURCE = 1;

/**
 * Sets the settings of an existing topic that differ from `wanted`. Kafka's AlterConfigs (the one kafkajs has)
 * replaces all of a topic's own settings, so the ones it already has are sent along unchanged.
 */
async function correctConfig(
  admin: Admin,
  topic: string,
  wanted: Record<string, string>,
  log?: InfraLog,
): Promise<void> {
  if (Object.keys(wanted).length === 0) return;
  const { resources } = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }],
    includeSynonyms: false,
  });
  const entries = resources[0]?.configEntries ?? [];
  const current = new Map(entries.map((e) => [e.configName, e.configValue]));
  const changes = Object.entries(wanted).filter(([name, value]) => current.get(name) !== value);
  if (changes.length === 0) return;
  const own = entries
    .filter((e) => e.configSource === TOPIC_CONFIG_SOURCE && !(e.configName in wanted))
    .map((e) => ({ name: e.configName, value: e.configValue }));
  await admin.alterConfigs({
    validateOnly: false,
    resources: [
      {
        type: ConfigResourceTypes.TOPIC,
        name: topic,
        configEntries: [...own, ...Object.entries(wanted).map(([name, value]) => ({ name, value }))],
      },
    ],
  });
  log?.(
    `kafka: corrected ${topic}: ${changes.map(([n, v]) => `${n} ${current.get(n) ?? '(unset)'}->${v}`).join(', ')}`,
  );
}
