// Creates keygate's topics with their partition counts (used by docker-compose; `npm run up` does it itself).
import { TopicSpecs } from '@keygate/contracts';
import { ensureTopics } from '@keygate/stack';

const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
ensureTopics(brokers, TopicSpecs, (m) => process.stdout.write(`${m}\n`)).catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
