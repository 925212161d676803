import type { MigrationInterface, QueryRunner } from 'typeorm';

export class UsageLedger1732300000001 implements MigrationInterface {
  name = 'UsageLedger1732300000001';

  async up(q: QueryRunner): Promise<void> {
    // One row per gateway request; the primary key is the dedupe that makes ingestion exactly-once in effect.
    await q.query(`
      CREATE TABLE usage_requests (
        request_id        text PRIMARY KEY,
        key_id            text,
        route             text,
        provider          text,
        upstream_model    text,
        endpoint          text NOT NULL,
        status            integer NOT NULL,
        outcome           text NOT NULL,
        error_code        text,
        prompt_tokens     integer NOT NULL,
        completion_tokens integer NOT NULL,
        streamed          boolean NOT NULL,
        latency_ms        integer NOT NULL,
        client_ip         text,
        cost_usd          numeric(24, 12) NOT NULL,
        price_version     text NOT NULL,
        time              timestamptz NOT NULL,
        ingested_at       timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX usage_requests_key_time ON usage_requests (key_id, time)`);
    // Per-key, per-minute aggregates, updated in the same statement as the dedupe.
    await q.query(`
      CREATE TABLE usage_minute (
        key_id            text NOT NULL,
        bucket            timestamptz NOT NULL,
        route             text NOT NULL DEFAULT '',
        requests          bigint NOT NULL,
        errors            bigint NOT NULL,
        prompt_tokens     bigint NOT NULL,
        completion_tokens bigint NOT NULL,
        cost_usd          numeric(24, 12) NOT NULL,
        PRIMARY KEY (key_id, bucket, route)
      )`);
    await q.query(`
      CREATE TABLE dead_letters (
        id          bigserial PRIMARY KEY,
        topic       text NOT NULL,
        partition   integer NOT NULL,
        "offset"    text NOT NULL,
        reason      text NOT NULL,
        payload     text,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dead_letters, usage_minute, usage_requests`);
  }
}
