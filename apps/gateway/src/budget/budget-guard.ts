import Decimal from 'decimal.js';
import type { Redis } from 'ioredis';
import { budgetPeriod, type Budget } from '@keygate/contracts';
import type { Price } from '@keygate/platform';

// The gateway's half of budget enforcement: a running spend per key and budget period in Redis, shared by every
// instance, charged with each answer's exact cost (routes.yaml pricing, as the ledger prices it) and checked
// before the upstream call. A key at its budget is refused at once (429 budget_exceeded) instead of after the
// ledger → usage-service → key-service suspension round trip, which takes seconds under load. What can still
// pass the budget is the cost of the requests already in flight when it is reached.
// The ledger stays the source of truth: usage-service still suspends the key, so a lost or younger counter (Redis
// emptied, a gateway upgraded mid-period) only means falling back to that slower path.
// Amounts are integers of nano-USD (price per 1M tokens × tokens is the cost in micro-USD; × 1000, rounded up by
// less than a billionth of a dollar per request): exact integer sums in Redis up to 9 million USD per period.

export class BudgetGuard {
  constructor(
    private readonly redis: Redis,
    private readonly pricing: Record<string, Price>,
  ) {}

  /** The spend key of this budget's current period, and how long it must live. */
  private counter(keyId: string, budget: Budget, now: number): { key: string; ttlMs: number } {
    const p = budgetPeriod(budget.period, now);
    return {
      key: `kg:spend:{${keyId}}:${budget.period}:${p.start.toISOString().slice(0, 10)}`,
      ttlMs: p.end.getTime() - now + 86_400_000,
    };
  }

  /** Nano-USD spent in the current period, as far as the gateways have counted. */
  async spentNanos(keyId: string, budget: Budget, now = Date.now()): Promise<number> {
    return Number((await this.redis.get(this.counter(keyId, budget, now).key)) ?? 0);
  }

  async exceeded(keyId: string, budget: Budget, now = Date.now()): Promise<boolean> {
    const amount = new Decimal(budget.amountUsd).mul(1e9);
    return amount.lte(await this.spentNanos(keyId, budget, now));
  }

  costNanos(model: string | null, promptTokens: number, completionTokens: number): number {
    const price = model ? this.pricing[model] : undefined;
    if (!price) return 0;
    return new Decimal(price.input)
      .mul(promptTokens)
      .add(new Decimal(price.output).mul(completionTokens))
      .mul(1000)
      .toDecimalPlaces(0, Decimal.ROUND_UP)
      .toNumber();
  }

  async charge(
    keyId: string,
    budget: Budget,
    model: string | null,
    promptTokens: number,
    completionTokens: number,
    now = Date.now(),
  ): Promise<void> {
    const nanos = this.costNanos(model, promptTokens, completionTokens);
    if (nanos <= 0) return;
    const { key, ttlMs } = this.counter(keyId, budget, now);
    await this.redis.multi().incrby(key, nanos).pexpire(key, ttlMs).exec();
  }
}
