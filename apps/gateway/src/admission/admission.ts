import type { Redis } from 'ioredis';
import type { EffectiveLimit } from '../rate-limit/rate-limiter';

// Admission and settlement: the gateway's two Redis round trips per request, one Lua script each, atomic, on the
// key's own structures. Every structure of a key carries the `{keyId}` hash tag, so one script touches one Redis
// Cluster slot:
//   kg:rl:{keyId}:r                      request log: zset, member = request id, score = admission ms
//   kg:rl:{keyId}:t                      token log:   zset, member = "<tokens>:<request id>", score = settle ms
//   kg:rl:{keyId}:ts                     running sum of the token log (a cache of it: recounted when missing)
//   kg:spend:{keyId}:<period>:<start>    nano-USD spent in the budget period that starts on <start> (YYYY-MM-DD)
//   kg:rl:{keyId}:c                      leases:      zset, member = request id, score = expiry ms (in flight)
//
// Rate limits are a sliding 60-second window, so N gateway instances together never admit more than the limit in
// any minute (GCRA would allow a burst plus its refill). The clock is Redis's, shared by all instances. Requests
// are charged on admission; tokens and cost after the answer (their count is known only then), and the next
// request waits while the last minute's tokens, or the period's spend, are at the limit. Every step is O(log n)
// plus the entries that leave the window (each leaves once).
//
// ADMIT decides in this order, and a refused request is charged nothing:
//   1. tokens per minute    (0 = none)  → verdict 0 (rate limited)
//   2. requests per minute  (0 = none)  → verdict 0 (rate limited)
//   3. concurrency          (0 = none)  → verdict 3 (as many unexpired leases as the key may hold)
//   4. budget              (-1 = none)  → verdict 2 (budget spent: the period's spend ≥ its amount)
//   5. admitted: the request id joins the request log, and takes a lease → verdict 1
// KEYS: request log, token log, token sum, spend, leases. ARGV: rpm, tpm, request id, budget amount in nano-USD,
// max concurrent requests, lease lifetime ms. A lease is returned when the request ends (release); one whose
// gateway died with it expires after its lifetime.
// Returns {verdict, remaining requests (-1: no limit), requests reset ms, remaining tokens (-1), tokens reset ms,
// retry-after ms, spent nano-USD}.
//
// Extending it (reserved budgets, issue 19): a reservation is one more step between 4 and 5 — compare
// spent + reserved + this request's estimate with the amount, then add the estimate to a `{keyId}` reservation
// structure — and SETTLE releases the estimate while it charges the real cost. Keep refusals before any write.
const ADMIT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = 60000
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local budget = tonumber(ARGV[4])
local out = {1, -1, 0, -1, 0, 0, 0}
local tokens = function(entries)
  local n = 0
  for i = 1, #entries do n = n + tonumber(string.match(entries[i], '^(%d+):')) end
  return n
end
if tpm > 0 then
  local used = redis.call('GET', KEYS[3])
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  if not used then
    -- No running sum yet (or it expired apart from the log): count the log once.
    used = tokens(redis.call('ZRANGE', KEYS[2], 0, -1))
  else
    used = math.max(tonumber(used) - tokens(expired), 0)
  end
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #first == 0 then used = 0 end
  if used > 0 then
    redis.call('SET', KEYS[3], used, 'PX', window)
  else
    redis.call('DEL', KEYS[3])
  end
  out[4] = math.max(tpm - used, 0)
  if #first > 0 then out[5] = math.ceil(tonumber(first[2]) + window - now) end
  if used >= tpm then
    out[1] = 0
    out[6] = out[5]
    return out
  end
end
local count = 0
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    out[1] = 0
    out[2] = 0
    out[3] = math.ceil(tonumber(oldest[2]) + window - now)
    out[6] = out[3]
    return out
  end
end
local concurrent = tonumber(ARGV[5])
if concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  if redis.call('ZCARD', KEYS[5]) >= concurrent then
    out[1] = 3
    out[6] = 1000
    if rpm > 0 then out[2] = rpm - count end
    return out
  end
end
if budget >= 0 then
  local spent = tonumber(redis.call('GET', KEYS[4]) or '0')
  out[7] = spent
  if spent >= budget then
    out[1] = 2
    if rpm > 0 then out[2] = rpm - count end
    return out
  end
end
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  out[2] = rpm - count - 1
  out[3] = math.ceil(tonumber(oldest[2]) + window - now)
end
if concurrent > 0 then
  local ttl = tonumber(ARGV[6])
  redis.call('ZADD', KEYS[5], now + ttl, ARGV[3])
  redis.call('PEXPIRE', KEYS[5], ttl)
end
return out`;

// SETTLE charges what an admitted request used, whatever ended it (an answer, an error, a cut stream).
// KEYS: token log, token sum, spend. ARGV: tokens (0 = no token limit to charge), request id, cost in nano-USD
// (0 = no budget to charge), the spend counter's lifetime in ms. Tokens are charged once per request id (a retried
// settlement counts once); the cost is an INCRBY.
const SETTLE = `
local tokens = tonumber(ARGV[1])
if tokens > 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. ARGV[2]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('INCRBY', KEYS[2], ARGV[1])
  end
  redis.call('PEXPIRE', KEYS[1], 60000)
  redis.call('PEXPIRE', KEYS[2], 60000)
end
local nanos = tonumber(ARGV[3])
if nanos > 0 then
  redis.call('INCRBY', KEYS[3], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return 1`;

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

/** What a request asks for: the key's limits and budget, as its compiled cache entry holds them. */
export interface AdmissionPlan {
  keys: AdmissionKeys;
  limit: EffectiveLimit | null;
  // Budget amount in nano-USD (≥ 0) and the current period's counter; null when the key has no budget.
  budget: { amountNanos: number; counter: SpendCounter } | null;
}

export interface AdmissionResult {
  verdict: 'admitted' | 'rate_limited' | 'budget_exceeded' | 'concurrency_limited';
  limit: EffectiveLimit | null;
  remainingRequests: number; // -1 when unlimited
  resetRequestsMs: number;
  remainingTokens: number; // -1 when unlimited
  resetTokensMs: number;
  retryAfterMs: number;
  spentNanos: number; // 0 when the key has no budget
}

const VERDICTS = ['rate_limited', 'admitted', 'budget_exceeded', 'concurrency_limited'] as const;

type AdmissionRedis = Redis & {
  kgAdmit(
    requests: string,
    tokens: string,
    tokenSum: string,
    spend: string,
    leases: string,
    rpm: number,
    tpm: number,
    requestId: string,
    budgetNanos: number,
    maxConcurrent: number,
    leaseMs: number,
  ): Promise<number[]>;
  kgSettle(
    tokens: string,
    tokenSum: string,
    spend: string,
    tokenCount: number,
    requestId: string,
    nanos: number,
    spendTtlMs: number,
  ): Promise<number>;
};

// A key without a budget still names a spend key (never written), so KEYS stays one shape and one slot.
const noSpend = (keys: AdmissionKeys): string => `${keys.tokenSum}:nospend`;

export class Admission {
  private readonly redis: AdmissionRedis;

  // leaseMs: how long a lease outlives a gateway that died holding it (a request running longer stops counting).
  constructor(
    redis: Redis,
    private readonly leaseMs = 300_000,
  ) {
    redis.defineCommand('kgAdmit', { numberOfKeys: 5, lua: ADMIT });
    redis.defineCommand('kgSettle', { numberOfKeys: 3, lua: SETTLE });
    this.redis = redis as AdmissionRedis;
  }

  /** Whether the plan asks Redis anything: a key with neither limit nor budget is admitted without a trip. */
  static needed(plan: AdmissionPlan): boolean {
    return plan.limit !== null || plan.budget !== null;
  }

  async admit(plan: AdmissionPlan, requestId: string): Promise<AdmissionResult> {
    const { keys, limit, budget } = plan;
    const r = await this.redis.kgAdmit(
      keys.requests,
      keys.tokens,
      keys.tokenSum,
      budget?.counter.key ?? noSpend(keys),
      keys.leases,
      limit?.requestsPerMinute ?? 0,
      limit?.tokensPerMinute ?? 0,
      requestId,
      budget?.amountNanos ?? -1,
      limit?.maxConcurrentRequests ?? 0,
      this.leaseMs,
    );
    return {
      verdict: VERDICTS[r[0]] ?? 'rate_limited',
      limit,
      remainingRequests: r[1],
      resetRequestsMs: r[2],
      remainingTokens: r[3],
      resetTokensMs: r[4],
      retryAfterMs: r[5],
      spentNanos: r[6],
    };
  }

  /** Returns an admitted request's lease, whatever ended it (an answer, an error, an abort, a timeout). */
  async release(plan: AdmissionPlan, requestId: string): Promise<void> {
    if (plan.limit?.maxConcurrentRequests) await this.redis.zrem(plan.keys.leases, requestId);
  }

  /** Charges tokens (when the key has a token limit) and cost (when it has a budget) in one script. */
  async settle(plan: AdmissionPlan, requestId: string, tokens: number, nanos: number): Promise<void> {
    const tokenCount = plan.limit?.tokensPerMinute ? Math.max(0, Math.round(tokens)) : 0;
    const cost = plan.budget ? Math.max(0, nanos) : 0;
    if (tokenCount === 0 && cost === 0) return;
    await this.redis.kgSettle(
      plan.keys.tokens,
      plan.keys.tokenSum,
      plan.budget?.counter.key ?? noSpend(plan.keys),
      tokenCount,
      requestId,
      cost,
      plan.budget?.counter.ttlMs ?? 0,
    );
  }
}
