import Decimal from 'decimal.js';
import { BUDGET_SUSPENSION_PREFIX, type BudgetPeriod, type Period } from '@keygate/contracts';

// The period arithmetic is shared with the gateway, which keeps a running spend per period (libs/contracts).
export { budgetPeriod, type Period } from '@keygate/contracts';

export const BUDGET_THRESHOLDS = [50, 80, 100] as const;
export type BudgetThreshold = (typeof BUDGET_THRESHOLDS)[number];

// The thresholds a spend has reached, in exact decimals (a budget of 0 is reached at once).
export const reachedThresholds = (spentUsd: string, amountUsd: string): BudgetThreshold[] => {
  const spent = new Decimal(spentUsd);
  const amount = new Decimal(amountUsd);
  return BUDGET_THRESHOLDS.filter((t) => spent.mul(100).gte(amount.mul(t)));
};

export const spentPercent = (spentUsd: string, amountUsd: string): string => {
  const amount = new Decimal(amountUsd);
  return amount.isZero() ? '∞' : new Decimal(spentUsd).div(amount).mul(100).toDecimalPlaces(1).toString();
};

const money = (s: string) => new Decimal(s).toDecimalPlaces(6, Decimal.ROUND_UP).toString();

// The reason sent with SuspendKey and kept with the enforcement: an exact match later tells this suspension apart
// from an admin's. key-service trims reasons and caps them, so it stays short and trimmed.
export const budgetReason = (spentUsd: string, amountUsd: string, period: BudgetPeriod, p: Period): string =>
  `${BUDGET_SUSPENSION_PREFIX} ${money(spentUsd)} of ${amountUsd} USD spent in the ${period} from ${p.start.toISOString()}`;
