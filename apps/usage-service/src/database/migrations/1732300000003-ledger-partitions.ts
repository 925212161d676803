import type { MigrationInterface, QueryRunner } from 'typeorm';

const AUTH_FAILURES = `('invalid_api_key', 'key_revoked', 'key_expired')`;

// Raw request rows move to a table partitioned by day (usage-service drops partitions older than
// USAGE_RETENTION_DAYS; aggregates stay). A unique index on a partitioned table must contain the partition key, so
// the dedupe key becomes (request_id, time): a redelivered event carries the very same `time` (it is part of the
// message), so redelivery still conflicts; events older than the retention window are refused at ingest
// (dead-lettered), so a dropped partition can never let a redelivery in twice.
export class LedgerPartitions1732300000003 implements MigrationInterface {
  name = 'LedgerPartitions1732300000003';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE usage_requests RENAME TO usage_requests_unpartitioned`);
    await q.query(
      `ALTER TABLE usage_requests_unpartitioned RENAME CONSTRAINT usage_requests_pkey TO usage_requests_unpartitioned_pkey`,
    );
    await q.query(`ALTER INDEX usage_requests_key_time RENAME TO usage_requests_unpartitioned_key_time`);
    await q.query(`
      CREATE TABLE usage_requests (
        request_id        text NOT NULL,
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
        ingested_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (request_id, time)
      ) PARTITION BY RANGE (time)`);
    await q.query(`CREATE INDEX usage_requests_key_time ON usage_requests (key_id, time)`);
    // Auth-failure bursts per client IP look only at rejected requests.
    await q.query(
      `CREATE INDEX usage_requests_rejected_ip ON usage_requests (client_ip, time) WHERE outcome = 'rejected'`,
    );
    await q.query(`
      DO $$
      DECLARE d date;
      BEGIN
        FOR d IN SELECT DISTINCT (time AT TIME ZONE 'UTC')::date FROM usage_requests_unpartitioned LOOP
          EXECUTE format('CREATE TABLE %I PARTITION OF usage_requests FOR VALUES FROM (%L) TO (%L)',
            'usage_requests_p' || to_char(d, 'YYYYMMDD'),
            to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00');
        END LOOP;
      END $$`);
    await q.query(`INSERT INTO usage_requests SELECT * FROM usage_requests_unpartitioned`);
    await q.query(`DROP TABLE usage_requests_unpartitioned`);

    // Aggregates get the dimensions the summary groups by, and the error code. Every raw row still exists at this
    // point (nothing was ever dropped before this migration), so they are rebuilt exactly from it.
    await q.query(`
      ALTER TABLE usage_minute
        ADD COLUMN provider text NOT NULL DEFAULT '',
        ADD COLUMN upstream_model text NOT NULL DEFAULT '',
        ADD COLUMN error_code text NOT NULL DEFAULT ''`);
    await q.query(`ALTER TABLE usage_minute DROP CONSTRAINT usage_minute_pkey`);
    await q.query(
      `ALTER TABLE usage_minute ADD PRIMARY KEY (key_id, bucket, route, provider, upstream_model, error_code)`,
    );
    await q.query(`TRUNCATE usage_minute`);
    await q.query(`
      INSERT INTO usage_minute (key_id, bucket, route, provider, upstream_model, error_code, requests, errors,
        prompt_tokens, completion_tokens, cost_usd)
      SELECT key_id, date_trunc('minute', time, 'UTC'), coalesce(route, ''), coalesce(provider, ''),
             coalesce(upstream_model, ''), coalesce(error_code, ''), count(*), count(*) FILTER (WHERE status >= 400),
             sum(prompt_tokens), sum(completion_tokens), sum(cost_usd)
      FROM usage_requests WHERE key_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6`);

    // Daily cost per key: what budgets read (a month is at most 31 rows).
    await q.query(`
      CREATE TABLE usage_day (
        key_id   text NOT NULL,
        day      date NOT NULL,
        requests bigint NOT NULL,
        cost_usd numeric(24, 12) NOT NULL,
        PRIMARY KEY (key_id, day)
      )`);
    await q.query(`
      INSERT INTO usage_day (key_id, day, requests, cost_usd)
      SELECT key_id, (bucket AT TIME ZONE 'UTC')::date, sum(requests), sum(cost_usd)
      FROM usage_minute GROUP BY 1, 2`);

    // When a key last authenticated: hygiene reports and the dormant-key detector. Kept beyond raw-row retention.
    await q.query(`
      CREATE TABLE key_activity (
        key_id        text PRIMARY KEY,
        first_used_at timestamptz NOT NULL,
        last_used_at  timestamptz NOT NULL
      )`);
    await q.query(`
      INSERT INTO key_activity (key_id, first_used_at, last_used_at)
      SELECT key_id, min(time), max(time) FROM usage_requests
      WHERE key_id IS NOT NULL AND coalesce(error_code, '') NOT IN ${AUTH_FAILURES} GROUP BY key_id`);

    // A redelivered malformed message must not be dead-lettered twice.
    await q.query(`
      DELETE FROM dead_letters a USING dead_letters b
      WHERE a.id > b.id AND a.topic = b.topic AND a.partition = b.partition AND a."offset" = b."offset"`);
    await q.query(`CREATE UNIQUE INDEX dead_letters_position ON dead_letters (topic, partition, "offset")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX dead_letters_position`);
    await q.query(`DROP TABLE key_activity, usage_day`);
    await q.query(`ALTER TABLE usage_minute DROP CONSTRAINT usage_minute_pkey`);
    await q.query(`
      CREATE TABLE usage_minute_old AS
      SELECT key_id, bucket, route, sum(requests)::bigint AS requests, sum(errors)::bigint AS errors,
             sum(prompt_tokens)::bigint AS prompt_tokens, sum(completion_tokens)::bigint AS completion_tokens,
             sum(cost_usd)::numeric(24, 12) AS cost_usd
      FROM usage_minute GROUP BY 1, 2, 3`);
    await q.query(`DROP TABLE usage_minute`);
    await q.query(`ALTER TABLE usage_minute_old RENAME TO usage_minute`);
    await q.query(`ALTER TABLE usage_minute ADD PRIMARY KEY (key_id, bucket, route)`);
    await q.query(`ALTER TABLE usage_requests RENAME TO usage_requests_partitioned`);
    await q.query(`CREATE TABLE usage_requests (LIKE usage_requests_partitioned INCLUDING DEFAULTS)`);
    await q.query(`
      INSERT INTO usage_requests SELECT DISTINCT ON (request_id) * FROM usage_requests_partitioned
      ORDER BY request_id, time`);
    await q.query(`DROP TABLE usage_requests_partitioned`);
    await q.query(`ALTER TABLE usage_requests ADD PRIMARY KEY (request_id)`);
    await q.query(`CREATE INDEX usage_requests_key_time ON usage_requests (key_id, time)`);
  }
}
