import type { DataSource } from 'typeorm';
import type { BudgetPeriod } from '@keygate/contracts';
import type { AlertService } from '../alerts/alert.service';
import type { AfterIngest, UsageRow } from '../ingest/usage-row';
import {
  budgetPeriod,
  budgetReason,
  periodDays,
  reachedThresholds,
  thresholdAlert,
  trimUsd,
} from './budget-period';
import { GroupBudgetMonitor } from './group-budget.monitor';

interface Budgeted {
  key_id: string;
  amount: string;
  period: BudgetPeriod;
  status: string;
}

// After each batch, for the keys in it that have a budget: the spend of the current UTC period (usage_day, exact
// decimals) against the budget. 50/80/100% alerts are raised once per key, period and budget amount; at 100% an
// enforcement row asks the enforcer to suspend the key through key-service. It reads totals, not the batch, so a
// redelivered batch or a missed one is caught by the key's next batch. Then the same for the budgets of the batch's
// keys' groups (group-budget.monitor.ts), which only alert.
export class BudgetMonitor implements AfterIngest {
  readonly name = 'budgets';

  private readonly groups: GroupBudgetMonitor;

  constructor(
    private readonly db: DataSource,
    private readonly alerts: AlertService,
    private readonly onEnforcement: () => void,
    private readonly clock: () => number = Date.now,
  ) {
    this.groups = new GroupBudgetMonitor(db, alerts, clock);
  }

  async afterIngest(rows: UsageRow[]): Promise<void> {
    const keys = [...new Set(rows.filter((r) => r.keyId).map((r) => r.keyId!))];
    if (keys.length === 0) return;
    await this.check(keys);
    await this.groups.check(keys);
  }

  async check(keys: string[]): Promise<void> {
    const budgeted: Budgeted[] = await this.db.query(
      `SELECT key_id, budget_amount_usd::text AS amount, budget_period AS period, status FROM key_directory
       WHERE key_id = ANY ($1) AND budget_amount_usd IS NOT NULL AND deleted_at IS NULL ORDER BY key_id`,
      [keys],
    );
    if (budgeted.length === 0) return;
    const now = this.clock();
    const periods = budgeted.map((b) => budgetPeriod(b.period, now));
    const spent: { key_id: string; spent: string }[] = await this.db.query(
      `SELECT k.key_id, coalesce(sum(d.cost_usd), 0)::text AS spent
       FROM unnest($1::text[], $2::date[], $3::date[]) AS k(key_id, d0, d1)
       LEFT JOIN usage_day d ON d.key_id = k.key_id AND d.day >= k.d0 AND d.day < k.d1
       GROUP BY 1`,
      [budgeted.map((b) => b.key_id), ...periodDays(periods)],
    );
    const spentBy = new Map(spent.map((s) => [s.key_id, s.spent]));
    let enforce = false;
    await this.alerts.transaction(async (m, raise) => {
      for (const [i, b] of budgeted.entries()) {
        const amount = trimUsd(b.amount);
        const used = spentBy.get(b.key_id) ?? '0';
        const reached = reachedThresholds(used, amount);
        if (reached.length === 0) continue;
        const p = periods[i];
        const standing = {
          subject: b.key_id,
          keyId: b.key_id,
          who: `key ${b.key_id}`,
          amountUsd: amount,
          spentUsd: used,
          period: b.period,
          p,
        };
        for (const t of reached) await raise(thresholdAlert(standing, t));
        if (!reached.includes(100) || b.status !== 'active') continue;
        const inserted: unknown[] = await m.query(
          `INSERT INTO budget_enforcements (key_id, period_start, amount_usd, period_end, status, reason, spent_usd)
           VALUES ($1, $2, $3, $4, 'suspending', $5, $6) ON CONFLICT DO NOTHING RETURNING key_id`,
          [b.key_id, p.start, amount, p.end, budgetReason(used, amount, b.period, p), used],
        );
        enforce ||= inserted.length > 0;
      }
    });
    if (enforce) this.onEnforcement();
  }
}
