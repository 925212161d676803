import { randomBytes } from 'node:crypto';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { topicConfig, Topics, TopicSpecs } from '@keygate/contracts';
import { ensureTopics } from '@keygate/stack';
import { EventConsumer } from './event-consumer';
import { assertTopicConfig, TopicConfigError } from './topic-config';

// keys.events keeps every event: the topic set-up makes it so (at creation and on an existing topic), and a
// consumer refuses to start against a topic that forgets. Against the shared broker, with topics of this file's
// own; the shared keys.events is only read.
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const kafka = new Kafka({ clientId: 'topic-config-test', brokers, logLevel: logLevel.NOTHING });
const admin = kafka.admin();
const mine: string[] = [];
const KEEP_FOREVER = topicConfig(Topics.keysEvents);

const newTopic = (): string => {
  const topic = `kg-test-retention-${randomBytes(4).toString('hex')}`;
  mine.push(topic);
  return topic;
};

const settings = async (topic: string, names: string[]): Promise<Record<string, string>> => {
  const { resources } = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
    includeSynonyms: false,
  });
  return Object.fromEntries(resources[0].configEntries.map((e) => [e.configName, e.configValue]));
};

beforeAll(() => admin.connect());
afterAll(async () => {
  await admin.deleteTopics({ topics: mine }).catch(() => undefined);
  await admin.disconnect();
});

describe('keys.events retention', () => {
  it('is declared infinite, next to the partition count', () => {
    expect(TopicSpecs.find((s) => s.topic === Topics.keysEvents)?.config).toEqual({
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'cleanup.policy': 'delete',
    });
  });

  it('reads back infinite from the shared broker after the test set-up ran ensureTopics', async () => {
    expect(await settings(Topics.keysEvents, ['retention.ms', 'retention.bytes'])).toEqual({
      'retention.ms': '-1',
      'retention.bytes': '-1',
    });
  });

  it('creates a topic with infinite retention', async () => {
    const topic = newTopic();
    await ensureTopics(brokers, [{ topic, numPartitions: 1, config: KEEP_FOREVER }]);
    expect(await settings(topic, ['retention.ms', 'retention.bytes'])).toEqual({
      'retention.ms': '-1',
      'retention.bytes': '-1',
    });
  });

  it('corrects a pre-existing topic with a finite retention, keeping its other own settings', async () => {
    const topic = newTopic();
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'max.message.bytes', value: '2000000' },
          ],
        },
      ],
      waitForLeaders: true,
    });
    const lines: string[] = [];
    await ensureTopics(brokers, [{ topic, numPartitions: 1, config: KEEP_FOREVER }], (m) => lines.push(m));
    expect(await settings(topic, ['retention.ms', 'retention.bytes', 'max.message.bytes'])).toEqual({
      'retention.ms': '-1',
      'retention.bytes': '-1',
      'max.message.bytes': '2000000',
    });
    expect(lines).toEqual([`kafka: corrected ${topic}: retention.ms 3600000->-1`]);

    // Already right: nothing is altered a second time.
    lines.length = 0;
    await ensureTopics(brokers, [{ topic, numPartitions: 1, config: KEEP_FOREVER }], (m) => lines.push(m));
    expect(lines).toEqual([]);
  });

  it('refuses a finite retention with a message naming the topic and the setting; passes once corrected', async () => {
    const topic = newTopic();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '604800000' }] }],
      waitForLeaders: true,
    });
    const refusal = assertTopicConfig(kafka, topic, KEEP_FOREVER);
    await expect(refusal).rejects.toBeInstanceOf(TopicConfigError);
    await expect(refusal).rejects.toThrow(
      `Kafka topic ${topic} has retention.ms=604800000; keygate needs retention.ms=-1`,
    );

    await ensureTopics(brokers, [{ topic, numPartitions: 1, config: KEEP_FOREVER }]);
    await expect(assertTopicConfig(kafka, topic, KEEP_FOREVER)).resolves.toBeUndefined();
  });

  it('refuses a finite retention.bytes or a compacted topic too', async () => {
    const topic = newTopic();
    await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 1,
          configEntries: [
            { name: 'retention.ms', value: '-1' },
            { name: 'retention.bytes', value: '1073741824' },
            { name: 'cleanup.policy', value: 'compact' },
          ],
        },
      ],
      waitForLeaders: true,
    });
    await expect(assertTopicConfig(kafka, topic, KEEP_FOREVER)).rejects.toThrow(
      `Kafka topic ${topic} has retention.bytes=1073741824, cleanup.policy=compact; keygate needs retention.bytes=-1, cleanup.policy=delete`,
    );
  });

  it('is checked by the consumer of keys.events before it joins its group', async () => {
    // The shared keys.events is infinite (set-up above): the consumer starts. Its group is this test's own.
    const consumer = new EventConsumer(kafka);
    await consumer.start({
      groupId: `topic-config-test-${randomBytes(4).toString('hex')}`,
      topics: [Topics.keysEvents],
      fromBeginning: false,
      handle: async () => undefined,
    });
    await consumer.stop();
  });
});
