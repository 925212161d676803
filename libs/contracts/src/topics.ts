// The Kafka topics of keygate, declared once. Renaming one breaks every running consumer and strands
// the events already on the old topic: add a new topic and migrate instead.
export const Topics = {
  keysEvents: 'keys.events',
  usageRequests: 'usage.requests',
  usageAlerts: 'usage.alerts',
} as const;

export type Topic = (typeof Topics)[keyof typeof Topics];

// Partition counts are explicit so ordering per message key (aggregate id, key id) is a decision, not a default.
export const TopicPartitions: Record<Topic, number> = {
  'keys.events': 6,
  'usage.requests': 6,
  'usage.alerts': 3,
};

// Topic-level settings, set when a topic is created and corrected on an existing one by the topic set-up
// (ensureTopics); a consumer of a topic checks them at start (libs/messaging assertTopicConfig). keys.events is the
// key history every projection is rebuilt from, offset 0 on: it is kept forever, never compacted.
export const TopicConfigs: Record<Topic, Readonly<Record<string, string>>> = {
  'keys.events': { 'retention.ms': '-1', 'retention.bytes': '-1', 'cleanup.policy': 'delete' },
  'usage.requests': {},
  'usage.alerts': {},
};

export const TopicSpecs = (Object.keys(TopicPartitions) as Topic[]).map((topic) => ({
  topic,
  numPartitions: TopicPartitions[topic],
  config: TopicConfigs[topic],
}));
