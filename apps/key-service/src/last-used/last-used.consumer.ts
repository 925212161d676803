import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Topics } from '@keygate/contracts';
import { exitOnStartupError } from '@keygate/platform';
import { BackgroundConsumer, type EventConsumer, type IncomingEvent } from '@keygate/messaging';
import { latestUseByKey } from './last-used.fold';

// Keeps key_last_used from usage.requests, so a key resource's lastUsedAt is as fresh as the gateway's usage
// events (well under a minute). Idempotent: a redelivered batch cannot move a time backwards.
@Injectable()
export class LastUsedConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly runner: BackgroundConsumer;

  constructor(
    private readonly db: DataSource,
    consumer: EventConsumer,
    private readonly groupId: string,
  ) {
    const logger = new Logger('last-used');
    this.runner = new BackgroundConsumer(consumer, (m) => logger.warn(m), exitOnStartupError('key-service'));
  }

  onApplicationBootstrap(): void {
    this.runner.start({
      groupId: this.groupId,
      topics: [Topics.usageRequests],
      fromBeginning: true,
      handle: (events) => this.record(events),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }

  async record(events: IncomingEvent[]): Promise<void> {
    const latest = latestUseByKey(events.map((e) => e.envelope));
    if (latest.size === 0) return;
    await this.db.query(
      `INSERT INTO key_last_used (key_id, last_used_at)
       SELECT * FROM unnest($1::text[], $2::timestamptz[])
       ON CONFLICT (key_id) DO UPDATE SET last_used_at = GREATEST(key_last_used.last_used_at, EXCLUDED.last_used_at)`,
      [[...latest.keys()], [...latest.values()].map((d) => d.toISOString())],
    );
  }
}
