import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { Topics } from '@keygate/contracts';
import type { EventProducer } from '@keygate/messaging';
import { counter } from '@keygate/platform';
import { PollLoop } from '../background/poll-loop';
import { alertEnvelope, toAlert, type AlertRow } from './alert';
import type { AlertService } from './alert.service';

const published = counter(
  'keygate_usage_alerts_published_total',
  'AlertRaised events published to usage.alerts',
);
const BATCH = 200;

// Publishes committed alerts to usage.alerts (the alerts table is the outbox). Rows are claimed with SKIP LOCKED
// inside a transaction that marks them published only after Kafka acknowledged: at-least-once, and consumers
// dedupe on the envelope id, which is stored with the alert.
export class AlertPublisher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly loop: PollLoop;

  constructor(
    private readonly db: DataSource,
    private readonly producer: EventProducer,
    alerts: AlertService,
  ) {
    this.loop = new PollLoop('alert-publisher', () => this.publishOnce(), 1000);
    alerts.onRaised(() => this.loop.wake());
  }

  onApplicationBootstrap(): void {
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    await this.producer.disconnect().catch(() => undefined);
  }

  async publishOnce(): Promise<boolean> {
    return this.db.transaction(async (m) => {
      const rows: AlertRow[] = await m.query(
        `SELECT * FROM alerts WHERE published_at IS NULL ORDER BY raised_at LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [BATCH],
      );
      if (rows.length === 0) return false;
      await this.producer.send(
        Topics.usageAlerts,
        rows.map((r) => {
          const envelope = alertEnvelope(toAlert(r));
          return { key: envelope.subject, envelope };
        }),
      );
      await m.query(`UPDATE alerts SET published_at = now() WHERE id = ANY ($1)`, [rows.map((r) => r.id)]);
      published.inc(rows.length);
      return rows.length === BATCH;
    });
  }
}
