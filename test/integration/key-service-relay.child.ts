import { createKafka, EventProducer, type OutgoingEvent } from '@keygate/messaging';
import type { Topic } from '@keygate/contracts';
import { createKeysDataSource } from '../../apps/key-service/src/database/data-source';
import { OutboxRelay } from '../../apps/key-service/src/outbox/outbox-relay';

// One OutboxRelay in its own process (spawned by key-service-outbox-faults.int-spec.ts with
// key-service-relay.register.js). After every successful publish it tells the parent which global positions
// went out, then holds for RELAY_HOLD_MS before returning to the relay: the parent kills it in that window,
// i.e. after Kafka has the batch and before the relay deletes it from the outbox.

const url = process.env.KEYS_DATABASE_URL!;
const brokers = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const holdMs = Number(process.env.RELAY_HOLD_MS ?? 0);

const main = async (): Promise<void> => {
  const db = createKeysDataSource(url);
  await db.initialize();
  const producer = new EventProducer(createKafka('it-relay-child', brokers));
  const sendBatch = producer.sendBatch.bind(producer);
  producer.sendBatch = async (batches: { topic: Topic; events: OutgoingEvent[] }[]) => {
    await sendBatch(batches);
    const published = batches.flatMap((b) => b.events.map((e) => e.envelope.globalPosition));
    process.send?.({ published });
    if (holdMs > 0) await new Promise((r) => setTimeout(r, holdMs));
  };
  const relay = new OutboxRelay(db, producer, 20);
  relay.onApplicationBootstrap();
  process.send?.({ ready: true });
  process.once('SIGTERM', () => {
    void relay
      .beforeApplicationShutdown()
      .then(() => producer.disconnect())
      .then(() => db.destroy())
      .finally(() => process.exit(0));
  });
};

main().catch((e: unknown) => {
  process.stderr.write(`relay child failed: ${(e as Error).stack}\n`);
  process.exit(1);
});
