import type { MigrationInterface, QueryRunner } from 'typeorm';

// usage-service's own copy of what keys.events says about keys, groups and admin tokens (each service owns its
// tables). `v` is the stream position of the last applied event: the projection's idempotency rule.
export class KeyDirectory1732300000002 implements MigrationInterface {
  name = 'KeyDirectory1732300000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE key_directory (
        key_id               text PRIMARY KEY,
        v                    integer NOT NULL,
        name                 text NOT NULL,
        owner_id             text NOT NULL,
        environment          text NOT NULL,
        group_ids            text[] NOT NULL DEFAULT '{}',
        status               text NOT NULL,
        status_reason        text,
        budget_amount_usd    numeric(24, 12),
        budget_period        text,
        rotation_period_days integer,
        expires_at           timestamptz,
        created_at           timestamptz NOT NULL,
        rotated_at           timestamptz,
        deleted_at           timestamptz,
        updated_at           timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX key_directory_owner ON key_directory (owner_id)`);
    await q.query(
      `CREATE INDEX key_directory_budgeted ON key_directory (key_id) WHERE budget_amount_usd IS NOT NULL`,
    );
    await q.query(`
      CREATE TABLE group_directory (
        group_id   text PRIMARY KEY,
        v          integer NOT NULL,
        name       text NOT NULL,
        deleted_at timestamptz
      )`);
    // Only the SHA-256 of an admin token, as in key-service.
    await q.query(`
      CREATE TABLE admin_tokens (
        token_id   text PRIMARY KEY,
        v          integer NOT NULL,
        name       text NOT NULL,
        role       text NOT NULL,
        hash       text NOT NULL,
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX admin_tokens_hash ON admin_tokens (hash) WHERE revoked_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE admin_tokens, group_directory, key_directory`);
  }
}
