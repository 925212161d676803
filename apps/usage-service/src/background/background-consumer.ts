import { Logger } from '@nestjs/common';
import { TopicConfigError, type ConsumerOptions, type EventConsumer } from '@keygate/messaging';
import { exitOnStartupError } from '@keygate/platform';

// Joining a consumer group can take seconds (the broker's initial rebalance delay, a dead member's session
// timeout): the service starts serving its API meanwhile, and a Kafka that is down at start is retried. A topic
// whose settings are wrong (TopicConfigError) is not retried: the process exits with the message.
export class BackgroundConsumer {
  private stopped = false;
  private starting?: Promise<void>;

  constructor(
    private readonly name: string,
    private readonly consumer: EventConsumer,
  ) {}

  start(options: ConsumerOptions): void {
    const logger = new Logger(this.name);
    this.starting = (async () => {
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          await this.consumer.start(options);
          return;
        } catch (e) {
          // The broker answered that the topic is wrong (keys.events with a finite retention): no retry fixes that,
          // and folding a topic that forgets would build a directory with holes. The service stops, saying why.
          if (e instanceof TopicConfigError) return exitOnStartupError('usage-service')(e);
          const delay = Math.min(30_000, 500 * 2 ** Math.min(attempt, 6));
          logger.warn(
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
