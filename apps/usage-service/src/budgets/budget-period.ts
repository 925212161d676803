import Decimal from 'decimal.js';
import type { BudgetPeriod } from '@keygate/contracts';

// Budgets run over UTC calendar periods: a day from midnight, an ISO week from Monday, a month from the 1st.
export interface Period {
  start: Date;
  end: Date; // exclusive
}

export const budgetPeriod = (period: BudgetPeriod, nowMs: number): Period => {
  const now = new Date(nowMs);
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  switch (period) {
    case 'day':
      return { start: new Date(Date.UTC(y, m, d)), end: new Date(Date.UTC(y, m, d + 1)) };
    case 'week': {
      const sinceMonday = (now.getUTCDay() + 6) % 7;
      return {
        start: new Date(Date.UTC(y, m, d - sinceMonday)),
        end: new Date(Date.UTC(y, m, d - sinceMonday + 7)),
      };
    }
    case 'month':
      return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + 1, 1)) };
    default: {
      const unreachable: never = period;
      throw new Error(`unknown budget period ${String(unreachable)}`);
    }
  }
};

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
  `budget exceeded: ${money(spentUsd)} of ${amountUsd} USD spent in the ${period} from ${p.start.toISOString()}`;
