import type { MigrationInterface, QueryRunner } from 'typeorm';

export class BudgetEnforcements1732300000005 implements MigrationInterface {
  name = 'BudgetEnforcements1732300000005';

  async up(q: QueryRunner): Promise<void> {
    // One row per key, budget period and budget amount that reached 100%: the durable to-do of the gRPC calls
    // (suspending → suspended → reactivated | released | skipped). `reason` is the exact text sent with
    // SuspendKey, so a later admin suspension (another reason) is never undone by a period rollover.
    await q.query(`
      CREATE TABLE budget_enforcements (
        key_id          text NOT NULL,
        period_start    timestamptz NOT NULL,
        amount_usd      numeric(24, 12) NOT NULL,
        period_end      timestamptz NOT NULL,
        status          text NOT NULL,
        reason          text NOT NULL,
        spent_usd       numeric(24, 12) NOT NULL,
        attempts        integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error      text,
        created_at      timestamptz NOT NULL DEFAULT now(),
        suspended_at    timestamptz,
        reactivated_at  timestamptz,
        PRIMARY KEY (key_id, period_start, amount_usd)
      )`);
    await q.query(`
      CREATE INDEX budget_enforcements_open ON budget_enforcements (next_attempt_at)
      WHERE status IN ('suspending', 'suspended')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE budget_enforcements`);
  }
}
