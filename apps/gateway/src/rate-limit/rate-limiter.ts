import type { Redis } from 'ioredis';
import type { RateLimit } from '@keygate/contracts';
import type { Tier } from '@keygate/platform';

// A sliding 60-second window in one atomic Lua script per request, so N gateway instances together never
// admit more than the limit in any minute (GCRA would allow a burst plus its refill). Requests are charged
// on admission; tokens are charged after the answer (their count is known only then), and the next request
// waits while the last minute's tokens are at the limit. The clock is Redis's, shared by all instances.
// Every step is O(log n) plus the entries that leave the window (each leaves once): the token log keeps a
// running sum next to it, so a busy key's check never reads its whole minute of entries.
// KEYS: request log, token log, token sum. ARGV: requests/min (0 = none), tokens/min (0 = none), request id.
const CHECK = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = 60000
local rpm = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local out = {1, -1, 0, -1, 0, 0}
local tokens = function(entries, step)
  local n = 0
  for i = 1, #entries, step do n = n + tonumber(string.match(entries[i], '^(%d+):')) end
  return n
end
if tpm > 0 then
  local used = redis.call('GET', KEYS[3])
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - window)
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  if not used then
    -- No running sum yet (or it expired apart from the log): count the log once.
    used = tokens(redis.call('ZRANGE', KEYS[2], 0, -1), 1)
  else
    used = math.max(tonumber(used) - tokens(expired, 1), 0)
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
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    out[1] = 0
    out[2] = 0
    out[3] = math.ceil(tonumber(oldest[2]) + window - now)
    out[6] = out[3]
    return out
  end
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  out[2] = rpm - count - 1
  out[3] = math.ceil(tonumber(oldest[2]) + window - now)
end
return out`;

// KEYS: token log, token sum. ARGV: tokens, request id. A request charged twice counts once.
const CHARGE_TOKENS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. ARGV[2]) == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('INCRBY', KEYS[2], ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], 60000)
redis.call('PEXPIRE', KEYS[2], 60000)
return 1`;

export interface EffectiveLimit {
  requestsPerMinute: number;
  tokensPerMinute: number;
}

export interface RateDecision {
  allowed: boolean;
  limit: EffectiveLimit;
  remainingRequests: number; // -1 when unlimited
  resetRequestsMs: number;
  remainingTokens: number;
  resetTokensMs: number;
  retryAfterMs: number;
}

type LimiterRedis = Redis & {
  kgRateCheck(
    requests: string,
    tokens: string,
    tokenSum: string,
    rpm: number,
    tpm: number,
    requestId: string,
  ): Promise<number[]>;
  kgChargeTokens(tokens: string, tokenSum: string, count: number, requestId: string): Promise<number>;
};

// null: the key has no limit. undefined: it names a tier this gateway does not know (removed from routes.yaml
// since), which the gateway refuses rather than serve unlimited.
export const effectiveLimit = (
  rl: RateLimit | null,
  tiers: Record<string, Tier>,
): EffectiveLimit | null | undefined => {
  if (!rl) return null;
  if (rl.tier !== undefined && !Object.hasOwn(tiers, rl.tier)) return undefined;
  const tier = rl.tier === undefined ? undefined : tiers[rl.tier];
  const rpm = rl.requestsPerMinute ?? tier?.requestsPerMinute ?? 0;
  const tpm = rl.tokensPerMinute ?? tier?.tokensPerMinute ?? 0;
  return rpm || tpm ? { requestsPerMinute: rpm, tokensPerMinute: tpm } : null;
};

export class RateLimiter {
  private readonly redis: LimiterRedis;

  constructor(redis: Redis) {
    redis.defineCommand('kgRateCheck', { numberOfKeys: 3, lua: CHECK });
    redis.defineCommand('kgChargeTokens', { numberOfKeys: 2, lua: CHARGE_TOKENS });
    this.redis = redis as LimiterRedis;
  }

  async check(keyId: string, limit: EffectiveLimit, requestId: string): Promise<RateDecision> {
    // One hash tag per key keeps its counters in one Redis Cluster slot.
    const [allowed, remReq, resetReq, remTok, resetTok, retryAfter] = await this.redis.kgRateCheck(
      `kg:rl:{${keyId}}:r`,
      `kg:rl:{${keyId}}:t`,
      `kg:rl:{${keyId}}:ts`,
      limit.requestsPerMinute,
      limit.tokensPerMinute,
      requestId,
    );
    return {
      allowed: allowed === 1,
      limit,
      remainingRequests: remReq,
      resetRequestsMs: resetReq,
      remainingTokens: remTok,
      resetTokensMs: resetTok,
      retryAfterMs: retryAfter,
    };
  }

  async chargeTokens(keyId: string, limit: EffectiveLimit, tokens: number, requestId: string): Promise<void> {
    if (!limit.tokensPerMinute || tokens <= 0) return;
    await this.redis.kgChargeTokens(
      `kg:rl:{${keyId}}:t`,
      `kg:rl:{${keyId}}:ts`,
      Math.round(tokens),
      requestId,
    );
  }
}

export const rateLimitHeaders = (d: RateDecision): Record<string, string> => {
  const h: Record<string, string> = {};
  if (d.limit.requestsPerMinute) {
    h['x-ratelimit-limit-requests'] = String(d.limit.requestsPerMinute);
    h['x-ratelimit-remaining-requests'] = String(Math.max(0, d.remainingRequests));
    h['x-ratelimit-reset-requests'] = `${Math.max(0, d.resetRequestsMs)}ms`;
  }
  if (d.limit.tokensPerMinute) {
    h['x-ratelimit-limit-tokens'] = String(d.limit.tokensPerMinute);
    h['x-ratelimit-remaining-tokens'] = String(Math.max(0, d.remainingTokens));
    h['x-ratelimit-reset-tokens'] = `${Math.max(0, d.resetTokensMs)}ms`;
  }
  if (!d.allowed) h['retry-after'] = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
  return h;
};
