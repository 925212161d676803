import type { BudgetPeriod } from './events/key-events';

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

/** How a budget's period reads in a sentence: "its daily budget". */
export const PERIOD_ADJECTIVE: Record<BudgetPeriod, string> = {
  day: 'daily',
  week: 'weekly',
  month: 'monthly',
};
