import type { DataSource } from 'typeorm';
import type { BudgetPeriod } from '@keygate/contracts';
import type { AlertService } from '../alerts/alert.service';
import { budgetPeriod, periodDays, reachedThresholds, thresholdAlert, trimUsd } from './budget-period';

interface BudgetedGroup {
  group_id: string;
  name: string;
  amount: string;
  period: BudgetPeriod;
}

// After each batch (run by BudgetMonitor, after the keys' own budgets), for the groups of its keys that have a
// budget: the spend of all the group's keys in the current UTC period (usage_day, exact decimals) against the group's
// budget, with the same 50/80/100% thresholds as a key's own budget, raised once per group, period and budget
// amount. The alert is about the group (subject `grp:<groupId>`, as the gateway names the group's spend counter) and
// no key.
// The group's keys are its members now (key_directory.group_ids): a key that left stops counting, spend before it
// joined counts. Deleted keys still in the group count: what they spent this period was the group's.
// At 100% no key is suspended: the gateway already refuses the group's keys while the group's budget is spent, and
// suspending them would outlast the period and cut them off from their other groups and budgets.
export class GroupBudgetMonitor {
  constructor(
    private readonly db: DataSource,
    private readonly alerts: AlertService,
    private readonly clock: () => number = Date.now,
  ) {}

  async check(keys: string[]): Promise<void> {
    const groups: BudgetedGroup[] = await this.db.query(
      `SELECT group_id, name, budget_amount_usd::text AS amount, budget_period AS period FROM group_directory
       WHERE group_id IN (SELECT unnest(group_ids) FROM key_directory WHERE key_id = ANY ($1))
         AND budget_amount_usd IS NOT NULL AND deleted_at IS NULL ORDER BY group_id`,
      [keys],
    );
    if (groups.length === 0) return;
    const now = this.clock();
    const periods = groups.map((g) => budgetPeriod(g.period, now));
    const spent: { group_id: string; spent: string }[] = await this.db.query(
      `SELECT g.group_id, coalesce(sum(d.cost_usd), 0)::text AS spent
       FROM unnest($1::text[], $2::date[], $3::date[]) AS g(group_id, d0, d1)
       LEFT JOIN key_directory k ON k.group_ids @> ARRAY[g.group_id]
       LEFT JOIN usage_day d ON d.key_id = k.key_id AND d.day >= g.d0 AND d.day < g.d1
       GROUP BY 1`,
      [groups.map((g) => g.group_id), ...periodDays(periods)],
    );
    const spentBy = new Map(spent.map((s) => [s.group_id, s.spent]));
    await this.alerts.raiseAll(
      groups.flatMap((g, i) => {
        const standing = {
          subject: `grp:${g.group_id}`,
          keyId: null,
          who: `group ${g.name} (${g.group_id})`,
          amountUsd: trimUsd(g.amount),
          spentUsd: spentBy.get(g.group_id) ?? '0',
          period: g.period,
          p: periods[i],
          details: { groupId: g.group_id, groupName: g.name },
        };
        return reachedThresholds(standing.spentUsd, standing.amountUsd).map((t) =>
          thresholdAlert(standing, t),
        );
      }),
    );
  }
}
