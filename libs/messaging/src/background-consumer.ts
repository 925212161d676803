import type { ConsumerOptions, EventConsumer } from './event-consumer';

// Joining a consumer group can take seconds (the broker's initial rebalance delay, a dead member's session
// timeout): the service starts serving its API meanwhile, and a Kafka that is down at start is retried.
export class BackgroundConsumer {
  private stopped = false;
  private starting?: Promise<void>;

  constructor(
    private readonly consumer: EventConsumer,
    private readonly warn: (message: string) => void,
  ) {}

  start(options: ConsumerOptions): void {
    this.starting = (async () => {
      for (let attempt = 1; !this.stopped; attempt++) {
        try {
          await this.consumer.start(options);
          return;
        } catch (e) {
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
