import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import Decimal from 'decimal.js';
import type { DataSource } from 'typeorm';
import type { BudgetPeriod } from '@keygate/contracts';
import { counter } from '@keygate/platform';
import { PollLoop } from '../background/poll-loop';
import { budgetPeriod } from './budget-period';
import type { KeyCallOutcome, KeyServiceClient } from './key-service.client';

const calls = counter('keygate_usage_budget_calls_total', 'key-service calls made for budgets', [
  'call',
  'outcome',
]);
const BATCH = 20;
// Right after our SuspendKey the directory may not show it yet: only after this long does "not suspended with
// our reason" mean someone else changed the key.
const DIRECTORY_GRACE_MS = 60_000;

interface Enforcement {
  key_id: string;
  period_start: Date;
  amount_usd: string;
  period_end: Date;
  status: 'suspending' | 'suspended';
  reason: string;
  attempts: number;
  suspended_at: Date | null;
  dir_status: string | null;
  dir_reason: string | null;
  dir_amount: string | null;
  dir_period: BudgetPeriod | null;
}

interface Transition {
  status: 'suspending' | 'suspended' | 'reactivated' | 'released' | 'skipped';
  attempts?: number;
  error?: string;
  delayMs?: number; // until the row is looked at again
}

// Carries out budget_enforcements through key-service's gRPC API: SuspendKey for keys that reached 100%, and
// ReactivateKey once the budget no longer holds them (the period rolled over, the budget was raised or removed),
// but only while the key is still suspended with our exact reason: an admin's suspension is never undone.
// Rows are claimed with a lease (one instance per row, no transaction held across a call) and retried with
// backoff while key-service is unreachable.
export class BudgetEnforcer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('budgets');
  private readonly loop: PollLoop;

  constructor(
    private readonly db: DataSource,
    private readonly keys: KeyServiceClient,
    private readonly tickMs: number,
    private readonly callTimeoutMs: number,
    private readonly clock: () => number = Date.now,
  ) {
    this.loop = new PollLoop('budget-enforcer', () => this.runOnce(), tickMs);
  }

  wake(): void {
    this.loop.wake();
  }

  onApplicationBootstrap(): void {
    this.keys.warmUp();
    this.loop.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.loop.stop();
    this.keys.close();
  }

  async runOnce(): Promise<boolean> {
    const now = this.clock();
    const rows: Enforcement[] = await this.db.query(
      `WITH due AS (
         SELECT key_id, period_start, amount_usd FROM budget_enforcements
         WHERE status IN ('suspending', 'suspended') AND next_attempt_at <= $1
         ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE budget_enforcements e SET next_attempt_at = $3 FROM due
         WHERE e.key_id = due.key_id AND e.period_start = due.period_start AND e.amount_usd = due.amount_usd
         RETURNING e.*
       )
       SELECT c.*, d.status AS dir_status, d.status_reason AS dir_reason,
              d.budget_amount_usd::text AS dir_amount, d.budget_period AS dir_period
       FROM claimed c LEFT JOIN key_directory d ON d.key_id = c.key_id`,
      [new Date(now), BATCH, new Date(now + 2 * this.callTimeoutMs + 5000)],
    );
    for (const r of rows) {
      const next = r.status === 'suspending' ? await this.suspend(r) : await this.maybeReactivate(r);
      const at = this.clock();
      await this.db.query(
        `UPDATE budget_enforcements SET status = $4, attempts = $5, last_error = $6, next_attempt_at = $7,
           suspended_at = CASE WHEN $4 = 'suspended' THEN coalesce(suspended_at, $8) ELSE suspended_at END,
           reactivated_at = CASE WHEN $4 = 'reactivated' THEN $8 END
         WHERE key_id = $1 AND period_start = $2 AND amount_usd = $3`,
        [
          r.key_id,
          r.period_start,
          r.amount_usd,
          next.status,
          next.attempts ?? r.attempts,
          next.error ?? null,
          new Date(at + (next.delayMs ?? 0)),
          new Date(at),
        ],
      );
    }
    return rows.length === BATCH;
  }

  private async suspend(r: Enforcement): Promise<Transition> {
    const outcome = await this.keys.suspend(r.key_id, r.reason);
    calls.inc({ call: 'suspend', outcome: outcome.kind });
    switch (outcome.kind) {
      case 'done':
        this.logger.log({ keyId: r.key_id }, `suspended: ${r.reason}`);
        return { status: 'suspended', attempts: 0, delayMs: this.tickMs };
      case 'already': // ours whose answer was lost, or an admin's: reactivation checks the reason either way
        return { status: 'suspended', attempts: 0, delayMs: this.tickMs };
      case 'gone':
        return { status: 'skipped', error: outcome.code };
      case 'retry':
        return this.retry(r, outcome);
    }
  }

  private async maybeReactivate(r: Enforcement): Promise<Transition> {
    const now = this.clock();
    const ours = r.dir_status === 'suspended' && r.dir_reason === r.reason;
    if (!ours) {
      const settled = (r.suspended_at?.getTime() ?? now) < now - DIRECTORY_GRACE_MS;
      return settled ? { status: 'released' } : { status: 'suspended', delayMs: this.tickMs };
    }
    const periodOver = now >= r.period_end.getTime();
    if (!periodOver && !(await this.budgetLifted(r, now)))
      return { status: 'suspended', delayMs: Math.min(this.tickMs, r.period_end.getTime() - now) };
    const outcome = await this.keys.reactivate(r.key_id);
    calls.inc({ call: 'reactivate', outcome: outcome.kind });
    switch (outcome.kind) {
      case 'done':
      case 'already':
        this.logger.log(
          { keyId: r.key_id },
          periodOver ? 'reactivated: the budget period rolled over' : 'reactivated: the budget was changed',
        );
        return { status: 'reactivated' };
      case 'gone':
        return { status: 'released', error: outcome.code };
      case 'retry':
        return this.retry(r, outcome);
    }
  }

  // The budget was removed, or changed to one the current period's spend is under.
  private async budgetLifted(r: Enforcement, now: number): Promise<boolean> {
    if (r.dir_amount === null || r.dir_period === null) return true;
    const p = budgetPeriod(r.dir_period, now);
    if (new Decimal(r.dir_amount).eq(r.amount_usd) && p.start.getTime() === r.period_start.getTime())
      return false;
    const [{ spent }]: { spent: string }[] = await this.db.query(
      `SELECT coalesce(sum(cost_usd), 0)::text AS spent FROM usage_day WHERE key_id = $1 AND day >= $2 AND day < $3`,
      [r.key_id, p.start.toISOString().slice(0, 10), p.end.toISOString().slice(0, 10)],
    );
    return new Decimal(spent).lt(r.dir_amount);
  }

  private retry(r: Enforcement, outcome: Extract<KeyCallOutcome, { kind: 'retry' }>): Transition {
    const attempts = r.attempts + 1;
    this.logger.warn({ keyId: r.key_id, attempts }, `key-service call failed, will retry: ${outcome.error}`);
    return {
      status: r.status,
      attempts,
      error: outcome.error,
      delayMs: Math.min(60_000, 250 * 2 ** Math.min(attempts, 8)),
    };
  }
}
