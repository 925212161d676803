import { ConfigResourceTypes, type Kafka } from 'kafkajs';

// A topic whose settings on the broker are not what keygate declares for it (libs/contracts TopicSpecs): e.g.
// keys.events with a finite retention.ms, which would silently forget the key history a projection rebuilds from.
// Not retried: the broker answered, and the answer is wrong until an operator corrects the topic.
export class TopicConfigError extends Error {
  override readonly name = 'TopicConfigError';
}

// Reads the topic's settings from the broker and throws TopicConfigError naming the topic and each setting that
// differs from `required`. Errors reaching the broker propagate as they are (the caller may retry those).
export const assertTopicConfig = async (
  kafka: Kafka,
  topic: string,
  required: Readonly<Record<string, string>>,
): Promise<void> => {
  const names = Object.keys(required);
  if (names.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { resources } = await admin.describeConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }],
      includeSynonyms: false,
    });
    const actual = new Map(
      (resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue] as const),
    );
    const wrong = names.filter((n) => actual.get(n) !== required[n]);
    if (wrong.length === 0) return;
    const found = wrong.map((n) => `${n}=${actual.get(n) ?? '(unset)'}`).join(', ');
    const wanted = wrong.map((n) => `${n}=${required[n]}`).join(',');
    throw new TopicConfigError(
      `Kafka topic ${topic} has ${found}; keygate needs ${wanted.replaceAll(',', ', ')} ` +
        `(${topic} must keep every event: a projection is rebuilt from it, offset 0 on). Refusing to start. ` +
        `Correct it with the project's topic set-up (npm run up, or node dist/scripts/topics.js), or ` +
        `kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config ${wanted}`,
    );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
};
