import type { MigrationInterface, QueryRunner } from 'typeorm';

export class EventStore1732300000000 implements MigrationInterface {
  name = 'EventStore1732300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        stream_id        text        NOT NULL,
        stream_position  integer     NOT NULL,
        global_position  bigserial   NOT NULL UNIQUE,
        event_id         uuid        NOT NULL UNIQUE,
        type             text        NOT NULL,
        schema_version   integer     NOT NULL,
        data             jsonb       NOT NULL,
        metadata         jsonb       NOT NULL DEFAULT '{}',
        created_at       timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (stream_id, stream_position)
      )`);
    await q.query(`CREATE INDEX events_type_created ON events (type, created_at)`);
    await q.query(`CREATE INDEX events_created ON events (created_at)`);
    // Rows wait here until the relay has published them; deleted after publish, so no cursor can skip one.
    await q.query(`
      CREATE TABLE outbox (
        global_position bigint      PRIMARY KEY,
        topic           text        NOT NULL,
        message_key     text        NOT NULL,
        envelope        jsonb       NOT NULL,
        headers         jsonb       NOT NULL DEFAULT '{}',
        created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await q.query(`
      CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_notify('outbox', ''); RETURN NULL; END $$`);
    await q.query(
      `CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()`,
    );
    await q.query(`
      CREATE TABLE api_keys (
        id                   text PRIMARY KEY,
        name                 text NOT NULL,
        description          text NOT NULL DEFAULT '',
        owner_id             text NOT NULL,
        environment          text NOT NULL,
        status               text NOT NULL,
        hash                 text NOT NULL UNIQUE,
        last4                text NOT NULL,
        group_ids            text[] NOT NULL DEFAULT '{}',
        expires_at           timestamptz,
        ip_allow             text[] NOT NULL DEFAULT '{}',
        ip_deny              text[] NOT NULL DEFAULT '{}',
        rate_limit           jsonb,
        budget               jsonb,
        metadata             jsonb NOT NULL DEFAULT '{}',
        rotation_period_days integer,
        created_at           timestamptz NOT NULL,
        updated_at           timestamptz NOT NULL,
        rotated_at           timestamptz,
        deleted_at           timestamptz,
        version              integer NOT NULL
      )`);
    await q.query(`CREATE INDEX api_keys_owner ON api_keys (owner_id) WHERE deleted_at IS NULL`);
    await q.query(`CREATE INDEX api_keys_groups ON api_keys USING gin (group_ids)`);
    await q.query(`
      CREATE TABLE groups (
        id          text PRIMARY KEY,
        name        text NOT NULL,
        description text NOT NULL DEFAULT '',
        routes      text[] NOT NULL DEFAULT '{}',
        created_at  timestamptz NOT NULL,
        updated_at  timestamptz NOT NULL,
        deleted_at  timestamptz,
        version     integer NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX groups_name ON groups (lower(name)) WHERE deleted_at IS NULL`);
    await q.query(`
      CREATE TABLE admin_tokens (
        id         text PRIMARY KEY,
        name       text NOT NULL,
        role       text NOT NULL,
        hash       text NOT NULL UNIQUE,
        last4      text NOT NULL,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz,
        version    integer NOT NULL
      )`);
    await q.query(`
      CREATE TABLE provider_credentials (
        id               text PRIMARY KEY,
        name             text NOT NULL,
        type             text NOT NULL,
        ciphertext       text NOT NULL,
        wrapped_data_key text NOT NULL,
        last4            text NOT NULL,
        settings         jsonb NOT NULL DEFAULT '{}',
        created_at       timestamptz NOT NULL,
        updated_at       timestamptz NOT NULL,
        removed_at       timestamptz,
        version          integer NOT NULL
      )`);
    await q.query(
      `CREATE UNIQUE INDEX provider_credentials_name ON provider_credentials (name) WHERE removed_at IS NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE provider_credentials, admin_tokens, groups, api_keys, outbox, events`);
    await q.query(`DROP FUNCTION outbox_notify`);
  }
}
