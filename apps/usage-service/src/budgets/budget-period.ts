import Decimal from 'decimal.js';
import {
  BUDGET_SUSPENSION_PREFIX,
  PERIOD_ADJECTIVE,
  type BudgetPeriod,
  type Period,
} from '@keygate/contracts';
import type { AlertInput, AlertSeverity } from '../alerts/alert';

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

export const THRESHOLD_SEVERITY: Record<BudgetThreshold, AlertSeverity> = {
  50: 'info',
  80: 'warning',
  100: 'critical',
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

// numeric(24,12) as text: "0.100000000000" → "0.1".
export const trimUsd = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s) || '0';

// The UTC days [start, end) of each period, as the date parameters of a usage_day query.
export const periodDays = (periods: Period[]): [string[], string[]] => [
  periods.map((p) => p.start.toISOString().slice(0, 10)),
  periods.map((p) => p.end.toISOString().slice(0, 10)),
];

// What a budget (a key's own or a group's) stands at in its current period.
export interface BudgetStanding {
  subject: string; // the alert's subject: the key id, or `grp:<groupId>`
  keyId: string | null;
  who: string; // how the message names the budget's owner: "key key_…", "group … (grp_…)"
  amountUsd: string; // trimmed
  spentUsd: string;
  period: BudgetPeriod;
  p: Period;
  details?: Record<string, unknown>;
}

// The budget_threshold alert of one reached threshold: raised once per subject, period, budget amount and threshold.
export const thresholdAlert = (s: BudgetStanding, t: BudgetThreshold): AlertInput => {
  const spent = trimUsd(s.spentUsd);
  return {
    type: 'budget_threshold',
    keyId: s.keyId,
    subject: s.subject,
    severity: THRESHOLD_SEVERITY[t],
    message: `${s.who} reached ${t}% of its ${PERIOD_ADJECTIVE[s.period]} budget: ${spent} of ${s.amountUsd} USD (${spentPercent(s.spentUsd, s.amountUsd)}%)`,
    details: {
      threshold: t,
      ...s.details,
      spentUsd: spent,
      budgetUsd: s.amountUsd,
      period: s.period,
      periodStart: s.p.start.toISOString(),
      periodEnd: s.p.end.toISOString(),
    },
    dedupeKey: `budget_threshold:${s.subject}:${s.p.start.toISOString()}:${s.amountUsd}:${t}`,
    dedupeSeconds: null,
  };
};
