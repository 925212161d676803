import type { MigrationInterface, QueryRunner } from 'typeorm';

// A group may carry a budget shared by all its keys (GroupCreated/GroupUpdated.budget). Its members are the keys
// whose group_ids hold it: the GIN index finds them (`group_ids @> ARRAY[group_id]`) for the group budget monitor.
// Groups folded before this migration get their budget from their next event (none had one before).
export class GroupBudgets1765000000001 implements MigrationInterface {
  name = 'GroupBudgets1765000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(
      `ALTER TABLE group_directory ADD COLUMN budget_amount_usd numeric(24, 12), ADD COLUMN budget_period text`,
    );
    await q.query(`CREATE INDEX key_directory_groups ON key_directory USING gin (group_ids)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX key_directory_groups`);
    await q.query(`ALTER TABLE group_directory DROP COLUMN budget_amount_usd, DROP COLUMN budget_period`);
  }
}
