import type { MigrationInterface, QueryRunner } from 'typeorm';

// When each key was last presented at the gateway, folded from usage.requests. A table of its own: api_keys is a
// read model rebuilt from the event store (TRUNCATE), and traffic is not a key event.
export class KeyLastUsed1764700000000 implements MigrationInterface {
  name = 'KeyLastUsed1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE key_last_used (
        key_id       text        PRIMARY KEY,
        last_used_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE key_last_used`);
  }
}
