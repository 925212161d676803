import type { MigrationInterface, QueryRunner } from 'typeorm';

// A group's budget, shared by every key of the group (null: none). Events before it carry none.
export class GroupBudget1764900000000 implements MigrationInterface {
  name = 'GroupBudget1764900000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE groups ADD COLUMN budget jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE groups DROP COLUMN budget`);
  }
}
