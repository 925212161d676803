import type { ConsumerOptions, EventConsumer } from './event-consumer';
import { TopicConfigError } from './topic-config';

// Joining a consumer group can take seconds (the broker's initial rebalance delay, a dead member's session
// timeout): the service starts serving its API meanwhile, and a Kafka that is down at start is retried. A topic
// whose settings are wrong (TopicConfigError, e.g. keys.events with a finite retention) is not retried: no retry
// fixes it, and folding a topic that forgets builds a store with holes. `fatal` decides (the services exit).
export class BackgroundConsumer {
  private stopped = false;
  private starting?: Promise<void>;

  constructor(
    private readonly consumer: EventConsumer,
    private readonly warn: (message: string) => void,
    private readonly fatal: (error: Error) => void,
  ) {}

  start(options: ConsumerOptions): void {
    this.starting = (async () => {
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          await this.consumer.start(options);
          return;
        } catch (e) {
          if (e instanceof TopicConfigError) return this.fatal(e);
          const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
          this.warn(
            `consumer did not start (attempt ${attempt}), retrying in ${delay} ms: ${(e as Error).message}`,
          );
          await this.consumer.stop().catch(() => undefined);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.starting;
    await this.consumer.stop();
  }
}
