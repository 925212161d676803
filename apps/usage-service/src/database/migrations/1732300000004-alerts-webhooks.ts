import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AlertsWebhooks1732300000004 implements MigrationInterface {
  name = 'AlertsWebhooks1732300000004';

  async up(q: QueryRunner): Promise<void> {
    // An alert row is also the outbox of its usage.alerts event (published_at) and of its webhook deliveries.
    // dedupe_key/dedupe_until: no second alert with the same key while an earlier one's window is open.
    await q.query(`
      CREATE TABLE alerts (
        id              text PRIMARY KEY,
        event_id        uuid NOT NULL,
        key_id          text,
        subject         text NOT NULL,
        type            text NOT NULL,
        severity        text NOT NULL,
        message         text NOT NULL,
        details         jsonb NOT NULL DEFAULT '{}',
        raised_at       timestamptz NOT NULL,
        dedupe_key      text NOT NULL,
        dedupe_until    timestamptz NOT NULL,
        published_at    timestamptz,
        acknowledged_at timestamptz,
        acknowledged_by text
      )`);
    await q.query(`CREATE INDEX alerts_key ON alerts (key_id, raised_at DESC)`);
    await q.query(`CREATE INDEX alerts_type ON alerts (type, raised_at DESC)`);
    await q.query(`CREATE INDEX alerts_raised ON alerts (raised_at DESC)`);
    await q.query(`CREATE INDEX alerts_dedupe ON alerts (dedupe_key, dedupe_until DESC)`);
    await q.query(`CREATE INDEX alerts_unpublished ON alerts (raised_at) WHERE published_at IS NULL`);

    // The secret is stored encrypted (AES-256-GCM under a key derived from KEYGATE_MASTER_KEY) and never returned.
    await q.query(`
      CREATE TABLE webhooks (
        id                text PRIMARY KEY,
        url               text NOT NULL,
        secret_ciphertext text NOT NULL,
        types             text[],
        description       text NOT NULL DEFAULT '',
        created_at        timestamptz NOT NULL DEFAULT now(),
        created_by        text NOT NULL,
        deleted_at        timestamptz
      )`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id               uuid PRIMARY KEY,
        webhook_id       text NOT NULL REFERENCES webhooks (id),
        alert_id         text NOT NULL REFERENCES alerts (id),
        status           text NOT NULL DEFAULT 'pending',
        attempts         integer NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz NOT NULL DEFAULT now(),
        locked_until     timestamptz,
        last_status_code integer,
        last_error       text,
        created_at       timestamptz NOT NULL DEFAULT now(),
        delivered_at     timestamptz,
        UNIQUE (webhook_id, alert_id)
      )`);
    await q.query(
      `CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
    );
    await q.query(
      `CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, created_at DESC)`,
    );
    // The delivery log: one row per attempt.
    await q.query(`
      CREATE TABLE webhook_attempts (
        delivery_id uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
        attempt     integer NOT NULL,
        started_at  timestamptz NOT NULL,
        duration_ms integer NOT NULL,
        status_code integer,
        error       text,
        PRIMARY KEY (delivery_id, attempt)
      )`);

    // Anomaly detector state: a key's EWMA baseline per metric and window size, and the networks it was used from.
    await q.query(`
      CREATE TABLE anomaly_baselines (
        key_id         text NOT NULL,
        metric         text NOT NULL,
        window_seconds integer NOT NULL,
        mean           double precision NOT NULL,
        variance       double precision NOT NULL,
        windows        integer NOT NULL,
        last_window    bigint NOT NULL,
        PRIMARY KEY (key_id, metric, window_seconds)
      )`);
    await q.query(`
      CREATE TABLE key_networks (
        key_id        text NOT NULL,
        network       text NOT NULL,
        first_seen_at timestamptz NOT NULL,
        PRIMARY KEY (key_id, network)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(
      `DROP TABLE key_networks, anomaly_baselines, webhook_attempts, webhook_deliveries, webhooks, alerts`,
    );
  }
}
