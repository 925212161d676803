import type { MigrationInterface, QueryRunner } from 'typeorm';

// A key's own "suspend after N days unused" (null: the deployment's default; 0: never).
export class KeyDormancy1764800000000 implements MigrationInterface {
  name = 'KeyDormancy1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN dormant_after_days integer`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys DROP COLUMN dormant_after_days`);
  }
}
