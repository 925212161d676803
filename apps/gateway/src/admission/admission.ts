import type { Redis } from 'ioredis';
import type { RouteLimit } from '@keygate/contracts';
import type { EffectiveLimit } from '../rate-limit/rate-limiter';
import { ADMIT, HOLD_ONLY, SETTLE } from './scripts';

// Admission and settlement: the gateway's two Redis round trips per request, one Lua script each (scripts.ts),
// atomic, on the key's own structures. Every structure of a key carries the `{keyId}` hash tag, so one script
// touches one Redis Cluster slot:
//   kg:rl:{keyId}:r                      request log: zset, member = request id, score = admission ms
//   kg:rl:{keyId}:t                      token log:   zset, member = "<tokens>:<request id>", score = settle ms
//   kg:rl:{keyId}:ts                     running sum of the token log (a cache of it: recounted when missing)
//   kg:rl:{keyId}:c                      leases:      zset, member = request id, score = expiry ms (in flight)
//   kg:rl:{keyId}:r|t|ts:<route>         the same three for a route the key limits (rateLimit.routes)
//   kg:spend:{keyId}:<period>:<start>    nano-USD spent in the budget period that starts on <start> (YYYY-MM-DD)
//   kg:hold:{keyId}                      budget holds: zset, member = request id, score = expiry ms
//   kg:hold:{keyId}:n                    hash, request id → nano-USD it holds, and "+" → their sum
// A group's budget (shared by its keys) has the same three budget structures under `{grp:<groupId>}`; it is held
// by one more script before the key's (a request of a key in a budgeted group makes three trips, not two).
//
// Rate limits are a sliding 60-second window, so N gateway instances together never admit more than the limit in
// any minute (GCRA would allow a burst plus its refill). The clock is Redis's, shared by all instances. Requests
// are charged on admission; tokens and cost after the answer (their count is known only then), and the next
// request waits while the last minute's tokens, or the period's spend, are at the limit. Every step is O(log n)
// plus the entries that leave the window (each leaves once).
//
/** A key's Redis structures (see above), named once when the key enters the cache. */
export interface AdmissionKeys {
  requests: string;
  tokens: string;
  tokenSum: string;
  leases: string;
}

export const admissionKeys = (keyId: string): AdmissionKeys => ({
  requests: `kg:rl:{${keyId}}:r`,
  tokens: `kg:rl:{${keyId}}:t`,
  tokenSum: `kg:rl:{${keyId}}:ts`,
  leases: `kg:rl:{${keyId}}:c`,
});

/** The budget period a request falls in: its spend counter and how long that counter must live. */
export interface SpendCounter {
  key: string;
  ttlMs: number;
}

/** A budget as admission holds it: a key's own, or one its group shares with the group's other keys. */
export interface BudgetPlan {
  scope: 'key' | 'group';
  id: string; // the key's or the group's id
  amountUsd: string;
  period: 'day' | 'week' | 'month';
  amountNanos: number; // ≥ 0
  counter: SpendCounter; // the current period's
  holds: string;
  held: string;
}

/** A budget's hold structures; `tag` is the hash tag of its owner (`keyId` or `grp:<groupId>`). */
export const holdKeys = (tag: string): Pick<BudgetPlan, 'holds' | 'held'> => ({
  holds: `kg:hold:{${tag}}`,
  held: `kg:hold:{${tag}}:n`,
});

/** What a request asks for: the key's limits and budgets, as its compiled cache entry holds them. */
export interface AdmissionPlan {
  keys: AdmissionKeys;
  limit: EffectiveLimit | null;
  budget: BudgetPlan | null; // the key's own
  groupBudgets: readonly BudgetPlan[]; // its groups' shared budgets
}

/** A request's worst case in nano-USD (budget/cost-estimate.ts): held until it settles. */
export interface CostAsk {
  promptNanos: number;
  outNanos: number; // per completion token, all choices together
  maxTokens: number; // completion tokens it may be answered with
  minTokens: number; // the fewest worth sending it upstream for
}

const NO_COST: CostAsk = { promptNanos: 0, outNanos: 0, maxTokens: 0, minTokens: 0 };

/** A budget that refused a request: which, and where it stood. */
export interface BudgetRefusal {
  budget: BudgetPlan;
  spentNanos: number;
  heldNanos: number; // held by requests in flight
  later: boolean; // only those holds stand in the way: it may fit once they settle
}

export interface AdmissionResult {
  verdict: 'admitted' | 'rate_limited' | 'budget_exceeded' | 'concurrency_limited';
  limit: EffectiveLimit | null;
  remainingRequests: number; // -1 when unlimited
  resetRequestsMs: number;
  remainingTokens: number; // -1 when unlimited
  resetTokensMs: number;
  retryAfterMs: number;
  grantedTokens: number; // completion tokens the budgets pay for (the ask's maxTokens when none limits it)
  routeLimited: (RouteLimit & { route: string }) | null; // rate_limited by the key's limit on this route
  refusal: BudgetRefusal | null; // budget_exceeded: the budget that refused
}

const VERDICTS = ['rate_limited', 'admitted', 'budget_exceeded', 'concurrency_limited'] as const;

type Reply = Promise<number[]>;
type AdmissionRedis = Redis & {
  kgAdmit(...keysThenArgs: Array<string | number>): Reply;
  kgHold(...keysThenArgs: Array<string | number>): Reply;
  kgSettle(...keysThenArgs: Array<string | number>): Reply;
};

// A key without a budget still names budget structures (never written), so KEYS stays one shape and one slot.
const noBudget = (keys: AdmissionKeys): string[] => [
  `${keys.tokenSum}:nospend`,
  `${keys.tokenSum}:noholds`,
  `${keys.tokenSum}:noheld`,
];
const budgetKeys = (b: BudgetPlan): string[] => [b.counter.key, b.holds, b.held];

// The key's structures for one route it limits (the key's own names with the route appended: same slot).
const routeKeys = (keys: AdmissionKeys, route: string): string[] => [
  `${keys.requests}:${route}`,
  `${keys.tokens}:${route}`,
  `${keys.tokenSum}:${route}`,
];

const routeLimitOf = (plan: AdmissionPlan, route: string): RouteLimit | undefined =>
  route && plan.limit?.routes && Object.hasOwn(plan.limit.routes, route)
    ? plan.limit.routes[route]
    : undefined;

// How many script calls in flight make the next one go by the batching connection, on a Redis Cluster (see Admission).
export const BATCH_FROM = 16;

const defineScripts = (redis: Redis): AdmissionRedis => {
  redis.defineCommand('kgAdmit', { numberOfKeys: 10, lua: ADMIT });
  redis.defineCommand('kgHold', { numberOfKeys: 3, lua: HOLD_ONLY });
  redis.defineCommand('kgSettle', { numberOfKeys: 8, lua: SETTLE });
  return redis as AdmissionRedis;
};

export class Admission {
  private readonly direct: AdmissionRedis;
  private readonly batching: AdmissionRedis | null;
  private inFlight = 0;
  private readonly landed = (): void => void this.inFlight--;
  // The socket held until this iteration's check phase (see the constructor).
  private corked: { uncork(): void } | null = null;
  private readonly uncork = (): void => {
    this.corked?.uncork();
    this.corked = null;
  };

  // inFlightMs: how long a lease or a budget hold outlives a gateway that died holding it (a request running
  // longer stops counting against the concurrency cap; its cost is charged when it ends all the same).
  // A call with no other in flight is written at once. While others are, on a single Redis, the socket is corked
  // until the event-loop iteration's check phase (setImmediate), so the calls of every callback of that iteration
  // leave in one write (the connection is the request path's: a key lookup made then waits with them until the
  // check phase): a write to a Redis that sleeps wakes it, and on the loopback the writer pays for that
  // wake-up (most of a write's cost at c=10; 1.41 → 0.51 Redis reads per request, and at c=100 less CPU than
  // ioredis's auto-pipelining, which builds a pipeline object per batch: bench/README.md, session 13). A Redis
  // Cluster client has no socket of its own to cork: there `batching` (a second, auto-pipelined connection) takes
  // the calls once BATCH_FROM are in flight, those of one event-loop turn in one write per node. A request's own
  // calls on one slot follow one another (each awaits the last), so neither the held writes nor two connections
  // reorder them.
  constructor(
    redis: Redis,
    private readonly inFlightMs = 300_000,
    batching: Redis | null = null,
  ) {
    this.direct = defineScripts(redis);
    this.batching = batching && defineScripts(batching);
  }

  // One script call, by the connection the calls in flight choose; counted until it lands.
  private send(call: (redis: AdmissionRedis) => Reply): Reply {
    const batching = this.inFlight >= BATCH_FROM ? this.batching : null;
    if (!batching && this.inFlight > 0) this.corkUntilCheck();
    const reply = call(batching ?? this.direct);
    this.inFlight++;
    reply.then(this.landed, this.landed);
    return reply;
  }

  private corkUntilCheck(): void {
    if (this.corked) return;
    // A Cluster has no socket of its own (one per node): its calls are not held.
    const socket = this.direct.stream as Redis['stream'] | undefined;
    if (!socket) return;
    socket.cork();
    this.corked = socket;
    setImmediate(this.uncork);
  }

  /** Whether the plan asks Redis anything: a key with neither limit nor budget is admitted without a trip. */
  static needed(plan: AdmissionPlan): boolean {
    return plan.limit !== null || plan.budget !== null || plan.groupBudgets.length > 0;
  }

  static budgeted(plan: AdmissionPlan): boolean {
    return plan.budget !== null || plan.groupBudgets.length > 0;
  }

  /**
   * Admits a request: its groups' budgets hold its cost first (one script each), then the key's script decides
   * its limits, its cap and its own budget. Whatever refuses it, what was held for it is given back.
   */
  async admit(
    plan: AdmissionPlan,
    requestId: string,
    ask: CostAsk = NO_COST,
    route = '',
  ): Promise<AdmissionResult> {
    let granted = ask.maxTokens;
    const held: BudgetPlan[] = [];
    for (const group of plan.groupBudgets) {
      const r = await this.send((redis) =>
        redis.kgHold(
          ...budgetKeys(group),
          group.amountNanos,
          ask.promptNanos,
          ask.outNanos,
          granted,
          ask.minTokens,
          requestId,
          this.inFlightMs,
        ),
      );
      if (r[0] === 0) {
        await this.giveBack(held, requestId);
        return refused(
          plan,
          { budget: group, spentNanos: r[1], heldNanos: r[2], later: r[4] === 1 },
          granted,
        );
      }
      held.push(group);
      granted = r[3];
    }
    const { keys, limit, budget } = plan;
    const [spend, holds, heldBy] = budget ? budgetKeys(budget) : noBudget(keys);
    const routeLimit = routeLimitOf(plan, route);
    const r = await this.send((redis) =>
      redis.kgAdmit(
        keys.requests,
        keys.tokens,
        keys.tokenSum,
        spend,
        keys.leases,
        holds,
        heldBy,
        ...routeKeys(keys, route),
        limit?.requestsPerMinute ?? 0,
        limit?.tokensPerMinute ?? 0,
        requestId,
        budget?.amountNanos ?? -1,
        limit?.maxConcurrentRequests ?? 0,
        this.inFlightMs,
        ask.promptNanos,
        ask.outNanos,
        granted,
        ask.minTokens,
        routeLimit?.requestsPerMinute ?? 0,
        routeLimit?.tokensPerMinute ?? 0,
      ),
    ).catch(async (e: unknown) => {
      await this.giveBack(held, requestId);
      throw e;
    });
    const verdict = VERDICTS[r[0]] ?? 'rate_limited';
    if (verdict !== 'admitted') await this.giveBack(held, requestId);
    return {
      verdict,
      limit,
      remainingRequests: r[1],
      resetRequestsMs: r[2],
      remainingTokens: r[3],
      resetTokensMs: r[4],
      retryAfterMs: r[5],
      grantedTokens: r[8],
      routeLimited: r[10] === 1 ? { route, ...routeLimit! } : null,
      refusal:
        verdict === 'budget_exceeded' && budget
          ? { budget, spentNanos: r[6], heldNanos: r[7], later: r[9] === 1 }
          : null,
    };
  }

  /**
   * Settles an admitted request, whatever ended it (an answer, an error, an abort, a timeout): charges its tokens
   * (when the key has a token limit) and its exact cost to every budget, and gives back its holds and its lease.
   */
  async settle(
    plan: AdmissionPlan,
    requestId: string,
    tokens: number,
    nanos: number,
    route = '',
  ): Promise<void> {
    const used = Math.max(0, Math.round(tokens));
    const tokenCount = plan.limit?.tokensPerMinute ? used : 0;
    const routeTokens = routeLimitOf(plan, route)?.tokensPerMinute ? used : 0;
    const cost = Math.max(0, nanos);
    if (
      !tokenCount &&
      !routeTokens &&
      !cost &&
      !plan.limit?.maxConcurrentRequests &&
      !Admission.budgeted(plan)
    )
      return;
    const [, routeTokenLog, routeTokenSum] = routeKeys(plan.keys, route);
    const own = plan.budget ? budgetKeys(plan.budget) : noBudget(plan.keys);
    await Promise.all([
      this.send((redis) =>
        redis.kgSettle(
          plan.keys.tokens,
          plan.keys.tokenSum,
          own[0],
          plan.keys.leases,
          own[1],
          own[2],
          routeTokenLog,
          routeTokenSum,
          tokenCount,
          requestId,
          plan.budget ? cost : 0,
          plan.budget?.counter.ttlMs ?? 0,
          routeTokens,
        ),
      ),
      ...plan.groupBudgets.map((g) => this.settleGroup(g, requestId, cost)),
    ]);
  }

  private settleGroup(g: BudgetPlan, requestId: string, nanos: number): Reply {
    // The same script on the group's slot: its token log and lease names are never written (0 tokens).
    const [spend, holds, held] = budgetKeys(g);
    return this.send((redis) =>
      redis.kgSettle(
        `${held}:t`,
        `${held}:ts`,
        spend,
        `${held}:c`,
        holds,
        held,
        `${held}:rt`,
        `${held}:rts`,
        0,
        requestId,
        nanos,
        g.counter.ttlMs,
        0,
      ),
    );
  }

  private async giveBack(groups: BudgetPlan[], requestId: string): Promise<void> {
    await Promise.all(groups.map((g) => this.settleGroup(g, requestId, 0)));
  }
}

const refused = (plan: AdmissionPlan, refusal: BudgetRefusal, granted: number): AdmissionResult => ({
  verdict: 'budget_exceeded',
  routeLimited: null,
  limit: plan.limit,
  remainingRequests: -1,
  resetRequestsMs: 0,
  remainingTokens: -1,
  resetTokensMs: 0,
  retryAfterMs: refusal.later ? 1000 : 0,
  grantedTokens: granted,
  refusal,
});
