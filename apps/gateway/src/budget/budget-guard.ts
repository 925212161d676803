import Decimal from 'decimal.js';
import { budgetPeriod, type Budget } from '@keygate/contracts';
import type { Price } from '@keygate/platform';
import type { SpendCounter } from '../admission/admission';

// The gateway's half of budget enforcement: a running spend per key and budget period in Redis, shared by every
// instance, charged with each answer's exact cost (routes.yaml pricing, as the ledger prices it) by the settlement
// script and compared with the budget by the admission script (admission/admission.ts). A key at its budget is
// refused at once (429 budget_exceeded) instead of after the ledger → usage-service → key-service suspension round
// trip, which takes seconds under load. What can still pass the budget is the cost of the requests already in
// flight when it is reached.
// The ledger stays the source of truth: usage-service still suspends the key, so a lost or younger counter (Redis
// emptied, a gateway upgraded mid-period) only means falling back to that slower path.
// Amounts are integers of nano-USD (price per 1M tokens × tokens is the cost in micro-USD; × 1000, rounded up by
// less than a billionth of a dollar per request): exact integer sums in Redis up to 9 million USD per period.

/** The budget in nano-USD, computed once per key when it enters the cache. */
export const budgetNanos = (budget: Budget): number =>
  new Decimal(budget.amountUsd).mul(1e9).toDecimalPlaces(0, Decimal.ROUND_UP).toNumber();

/** The spend counter of this budget's period at `now`, and how long it must live. */
export const spendCounter = (
  keyId: string,
  budget: Budget,
  now: number,
): SpendCounter & { endMs: number } => {
  const p = budgetPeriod(budget.period, now);
  const endMs = p.end.getTime();
  return {
    key: `kg:spend:{${keyId}}:${budget.period}:${p.start.toISOString().slice(0, 10)}`,
    ttlMs: endMs - now + 86_400_000,
    endMs,
  };
};

export class BudgetGuard {
  // Per upstream model: nano-USD per prompt and per completion token, as Decimals made once.
  private readonly prices = new Map<string, { input: Decimal; output: Decimal } | null>();

  constructor(private readonly pricing: Record<string, Price>) {}

  costNanos(model: string | null, promptTokens: number, completionTokens: number): number {
    if (!model || promptTokens + completionTokens === 0) return 0;
    let price = this.prices.get(model);
    if (price === undefined) {
      const p = Object.hasOwn(this.pricing, model) ? this.pricing[model] : undefined;
      price = p ? { input: new Decimal(p.input).mul(1000), output: new Decimal(p.output).mul(1000) } : null;
      this.prices.set(model, price);
    }
    if (!price) return 0;
    return price.input
      .mul(promptTokens)
      .add(price.output.mul(completionTokens))
      .toDecimalPlaces(0, Decimal.ROUND_UP)
      .toNumber();
  }
}
