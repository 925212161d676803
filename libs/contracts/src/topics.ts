// The Kafka topics of keygate, declared once. Renaming one breaks every running consumer and strands
// the events already on the old topic: add a new topic and migrate instead.
//
// Every name that carries state across processes sharing one broker or one Redis (topics, default consumer
// groups, the gateway's pub/sub channel) lives in a namespace: KAFKA_TOPIC_PREFIX, read once when this module
// loads. A production stack runs with none; the test runs set `test.` (jest.config.js), so a test run and a
// `npm run up` stack on the same broker and Redis never read each other's keys, admin tokens or usage.
export const NAMESPACE = process.env.KAFKA_TOPIC_PREFIX ?? '';
if (!/^[A-Za-z0-9._-]*$/.test(NAMESPACE) || NAMESPACE.length > 100) {
  // Kafka's topic alphabet; checked here because every process reads it here, before its env validation runs.
  throw new Error(`KAFKA_TOPIC_PREFIX must match [A-Za-z0-9._-]{0,100}, got ${JSON.stringify(NAMESPACE)}`);
}
export const namespaced = (name: string): string => `${NAMESPACE}${name}`;

// Partition counts are explicit so ordering per message key (aggregate id, key id) is a decision, not a default.
// Topic-level settings are set when a topic is created and corrected on an existing one by the topic set-up
// (ensureTopics); a consumer of a topic checks them at start (libs/messaging assertTopicConfig). keys.events is the
// key history every projection is rebuilt from, offset 0 on: it is kept forever, never compacted.
const declared = {
  keysEvents: {
    name: 'keys.events',
    partitions: 6,
    config: { 'retention.ms': '-1', 'retention.bytes': '-1', 'cleanup.policy': 'delete' },
  },
  usageRequests: { name: 'usage.requests', partitions: 6, config: {} },
  usageAlerts: { name: 'usage.alerts', partitions: 3, config: {} },
} as const satisfies Record<
  string,
  { name: string; partitions: number; config: Readonly<Record<string, string>> }
>;

type TopicId = keyof typeof declared;
const ids = Object.keys(declared) as TopicId[];

// The topics' names in this process's namespace.
export const Topics = Object.fromEntries(ids.map((id) => [id, namespaced(declared[id].name)])) as Readonly<
  Record<TopicId, string>
>;

export type Topic = string;

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  config: Readonly<Record<string, string>>;
}

export const TopicSpecs: readonly TopicSpec[] = ids.map((id) => ({
  topic: Topics[id],
  numPartitions: declared[id].partitions,
  config: declared[id].config,
}));

// The declared settings of one of our topics (by its namespaced name); none for a topic that is not ours.
export const topicConfig = (topic: string): Readonly<Record<string, string>> =>
  TopicSpecs.find((s) => s.topic === topic)?.config ?? {};
