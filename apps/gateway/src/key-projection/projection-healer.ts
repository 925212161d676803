import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { Kafka } from 'kafkajs';
import { KeyProjectionStore } from './key-projection.store';
import { replayProjection } from './projection-replay';

const RECHECK_MS = 5_000;

// Redis without persistence forgets the projection when it restarts, while the projection's consumer group
// has long committed its offsets: nothing would ever re-apply the keys. The healer notices (the "complete"
// marker is gone), replays keys.events from offset 0 into Redis, and marks it complete again. Until the marker is
// back, unknown keys fail closed (503) on every instance instead of being told they do not exist.
export class ProjectionHealer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('projection');
  private healing?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: KeyProjectionStore,
    private readonly redis: Redis,
    private readonly kafka: Kafka,
  ) {}

  // In the background: start-up does not wait for a replay (unknown keys answer 503 meanwhile).
  onApplicationBootstrap(): void {
    this.redis.on('ready', () => void this.check());
    this.timer = setInterval(() => void this.check(), RECHECK_MS);
    this.timer.unref();
    void this.check();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  check(): Promise<void> {
    this.healing ??= this.heal().finally(() => (this.healing = undefined));
    return this.healing;
  }

  private async heal(): Promise<void> {
    try {
      if (await this.store.isComplete()) return;
      const started = Date.now();
      const result = await replayProjection(this.kafka, this.store);
      if (!result) return; // another instance (or rebuild-projection) is replaying
      this.logger.warn(
        `the Redis projection was incomplete (new or emptied Redis): replayed ${result.events} events of keys.events in ${Date.now() - started} ms`,
      );
    } catch (e) {
      this.logger.warn(`projection check failed, retrying: ${(e as Error).message}`);
    }
  }
}
