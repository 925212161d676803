import Decimal from 'decimal.js';
import { budgetPeriod, PERIOD_ADJECTIVE, type Budget } from '@keygate/contracts';
import { targetModel, type Price, type RouteConfig } from '@keygate/platform';
import { holdKeys, type BudgetPlan, type BudgetRefusal, type CostAsk } from '../admission/admission';
import { GatewayError } from '../proxy/gateway-error';
import type { UpstreamEndpoint } from '../proxy/upstream';
import { estimateRequest } from './cost-estimate';

// The gateway's half of budget enforcement: a running spend per budget (a key's own, or its group's) and period in
// Redis, shared by every instance. Admission holds each request's worst-case cost (cost-estimate.ts: its prompt,
// and the completion tokens it may be answered with, at the route's priciest target) against what is neither
// spent nor held by requests in flight; when the rest cannot pay for the client's completion limit, the request
// is granted (and clamped to) as many completion tokens as it can, and one that cannot pay even for the least
// answer is refused (429 budget_exceeded; budget_reserved while requests in flight hold the rest). After the
// answer its exact cost (routes.yaml pricing, as the ledger prices it) is charged and its hold given back
// (admission/admission.ts). So the spend never passes the budget
// while the estimate holds, however many requests run at once, on however many gateways.
// The ledger stays the source of truth: usage-service still suspends the key, so a lost or younger counter (Redis
// emptied, a gateway upgraded mid-period) only means falling back to that slower path.
// Amounts are integers of nano-USD (price per 1M tokens × tokens is the cost in micro-USD; × 1000, rounded up by
// less than a billionth of a dollar per request): exact integer sums in Redis up to 9 million USD per period.

/** The budget in nano-USD, computed once per key when it enters the cache. */
export const budgetNanos = (budget: Budget): number =>
  new Decimal(budget.amountUsd).mul(1e9).toDecimalPlaces(0, Decimal.ROUND_UP).toNumber();

// The fewest completion tokens worth going upstream for: a request the budget cannot pay this many for is refused.
const LEAST_COMPLETION_TOKENS = 1;

/** A budget's plan at `now`: its spend counter of the current period (and when that period ends). */
export const budgetPlan = (
  scope: BudgetPlan['scope'],
  id: string,
  budget: Budget,
  now: number,
): BudgetPlan & { endMs: number } => {
  const tag = scope === 'key' ? id : `grp:${id}`;
  const p = budgetPeriod(budget.period, now);
  const endMs = p.end.getTime();
  return {
    scope,
    id,
    amountUsd: budget.amountUsd,
    period: budget.period,
    amountNanos: budgetNanos(budget),
    counter: {
      key: `kg:spend:{${tag}}:${budget.period}:${p.start.toISOString().slice(0, 10)}`,
      ttlMs: endMs - now + 86_400_000,
    },
    ...holdKeys(tag),
    endMs,
  };
};

/** The plan at `now`: its counter renamed when its period has ended, its lifetime counted from `now`. */
export const currentPeriod = (plan: BudgetPlan & { endMs: number }, now: number): void => {
  if (now >= plan.endMs) {
    const next = budgetPlan(plan.scope, plan.id, plan, now);
    plan.counter = next.counter;
    plan.endMs = next.endMs;
  } else plan.counter.ttlMs = plan.endMs - now + 86_400_000;
};

interface RoutePrice {
  model: string; // the priciest target's model (its tokenizer counts the prompt)
  input: number; // nano-USD per prompt token, the most any target charges
  output: number; // nano-USD per completion token
}

// A model's price: nano-USD per prompt and per completion token, as Decimals made once; and in pico-USD as whole
// numbers when it is that exact (prices are given to a few decimals per million tokens), for integer arithmetic.
interface ModelPrice {
  input: Decimal;
  output: Decimal;
  picos: { input: number; output: number } | null;
}

// Pico-USD sums below this are exact in a double, and so is their division by 1000 to the next whole nano-USD.
const EXACT_PICOS = 2 ** 40;
// A token count the integer path can price: whole and not negative.
const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

const wholePicos = (nanos: Decimal): number | null => {
  const picos = nanos.mul(1000);
  return picos.isInteger() && picos.lt(EXACT_PICOS) ? picos.toNumber() : null;
};

export class BudgetGuard {
  private readonly prices = new Map<string, ModelPrice | null>();
  private readonly routePrices = new Map<string, RoutePrice>();

  constructor(private readonly pricing: Record<string, Price>) {}

  /** What a request may cost at worst on `route`: held by admission until the request settles. */
  ask(endpoint: UpstreamEndpoint, body: Record<string, unknown>, route: RouteConfig): CostAsk {
    const price = this.routePrice(route);
    const e = estimateRequest(endpoint, body, price.model, route.maxOutputTokens);
    return {
      promptNanos: Math.ceil(price.input * e.promptTokens),
      outNanos: price.output * e.choices,
      maxTokens: e.maxCompletionTokens,
      minTokens: endpoint === 'chat' ? LEAST_COMPLETION_TOKENS : 0,
    };
  }

  private routePrice(route: RouteConfig): RoutePrice {
    let p = this.routePrices.get(route.name);
    if (!p) {
      p = { model: targetModel(route.targets[0]), input: 0, output: 0 };
      for (const t of route.targets) {
        const price = this.price(targetModel(t));
        if (!price) continue;
        if (price.input.toNumber() + price.output.toNumber() > p.input + p.output) p.model = targetModel(t);
        p.input = Math.max(p.input, price.input.toNumber());
        p.output = Math.max(p.output, price.output.toNumber());
      }
      this.routePrices.set(route.name, p);
    }
    return p;
  }

  private price(model: string): ModelPrice | null {
    let price = this.prices.get(model);
    if (price === undefined) {
      const p = Object.hasOwn(this.pricing, model) ? this.pricing[model] : undefined;
      if (!p) price = null;
      else {
        const input = new Decimal(p.input).mul(1000);
        const output = new Decimal(p.output).mul(1000);
        const [inPicos, outPicos] = [wholePicos(input), wholePicos(output)];
        const picos = inPicos !== null && outPicos !== null ? { input: inPicos, output: outPicos } : null;
        price = { input, output, picos };
      }
      this.prices.set(model, price);
    }
    return price;
  }

  /** The exact cost in nano-USD, rounded up. */
  costNanos(model: string | null, promptTokens: number, completionTokens: number): number {
    if (!model || promptTokens + completionTokens === 0) return 0;
    const price = this.price(model);
    if (!price) return 0;
    if (price.picos && isCount(promptTokens) && isCount(completionTokens)) {
      const picos = price.picos.input * promptTokens + price.picos.output * completionTokens;
      if (picos < EXACT_PICOS) return Math.ceil(picos / 1000);
    }
    return price.input
      .mul(promptTokens)
      .add(price.output.mul(completionTokens))
      .toDecimalPlaces(0, Decimal.ROUND_UP)
      .toNumber();
  }
}

// Nano-USD (an integer from the admission script) as a decimal USD string.
const usd = (nanos: number): string => new Decimal(nanos).div(1e9).toFixed();

/**
 * 429 for a budget's refusal, naming the budget (the key's own or its group's), its period, what is spent and the
 * amount: budget_exceeded when what is left cannot pay for the request (stop), budget_reserved with Retry-After: 1
 * when only requests in flight hold the rest (retry: a client that stops on budget_exceeded is not misled).
 */
export const budgetError = (r: BudgetRefusal, headers: Record<string, string>): GatewayError => {
  const b = r.budget;
  const whose = b.scope === 'key' ? 'This API key' : `This API key's group ${b.id}`;
  const where =
    `${whose} has a ${PERIOD_ADJECTIVE[b.period]} budget of ${b.amountUsd} USD; ${usd(r.spentNanos)} USD is spent ` +
    `this period`;
  const message = r.later
    ? `${where} and ${usd(r.heldNanos)} USD is held by requests in flight, which leaves too little for this ` +
      'request. Retry when they have finished.'
    : r.spentNanos >= b.amountNanos
      ? `${where}: the budget is spent.`
      : `${where}: what is left cannot pay for this request's prompt and the least answer.`;
  return new GatewayError(r.later ? 'budget_reserved' : 'budget_exceeded', {
    message,
    headers: r.later ? { ...headers, 'retry-after': '1' } : headers,
  });
};
