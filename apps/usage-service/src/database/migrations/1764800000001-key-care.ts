import type { MigrationInterface, QueryRunner } from 'typeorm';

// Dormancy and rotation reminders: each key's own dormancy policy and when an admin last reactivated it (disuse
// counts from then), and webhooks that only want the alerts about some owners' keys.
export class KeyCare1764800000001 implements MigrationInterface {
  name = 'KeyCare1764800000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE key_directory ADD COLUMN dormant_after_days integer, ADD COLUMN reactivated_at timestamptz`,
    );
    await q.query(`ALTER TABLE webhooks ADD COLUMN owner_ids text[]`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhooks DROP COLUMN owner_ids`);
    await q.query(`ALTER TABLE key_directory DROP COLUMN reactivated_at, DROP COLUMN dormant_after_days`);
  }
}
