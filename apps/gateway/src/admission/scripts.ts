// The Lua of admission and settlement (admission.ts says what each structure is). Each script touches the
// structures of one `{keyId}` or `{grp:groupId}` hash tag: one Redis Cluster slot.

// HOLD (a function both scripts below use): reserve a request's worst-case cost on a budget.
//   spent = the period's spend counter; held = the sum of the unexpired holds (expired ones leave first).
//   free = amount - spent - held. The request needs at least `least` = prompt + `minTokens` completion tokens;
//   when free cannot pay that (or the spend is at the amount), it is refused and nothing is written. Otherwise it
//   is granted as many completion tokens as free pays for after the prompt, at most `maxTokens`, and holds
//   prompt + grant × outNanos until SETTLE (or its expiry, when its gateway died).
// Returns {1 | 0, spent, held, granted tokens, 1 when only the others' holds stand in the way (it may fit later)}.
const HOLD_FUNCTION = `
local function hold(spendKey, holds, held, amount, promptNanos, outNanos, maxTokens, minTokens, rid, expiry, now)
  local spent = tonumber(redis.call('GET', spendKey) or '0')
  local gone = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  for i = 1, #gone do
    local n = redis.call('HGET', held, gone[i])
    if n then
      redis.call('HDEL', held, gone[i])
      redis.call('HINCRBY', held, '+', -tonumber(n))
    end
  end
  if #gone > 0 then redis.call('ZREMRANGEBYSCORE', holds, '-inf', now) end
  local others = tonumber(redis.call('HGET', held, '+') or '0')
  local least = promptNanos + outNanos * minTokens
  local free = amount - spent - others
  if spent >= amount or free < least then
    local later = 0
    if others > 0 and spent < amount and amount - spent >= least then later = 1 end
    return {0, spent, others, 0, later}
  end
  local grant = maxTokens
  if outNanos > 0 then grant = math.min(maxTokens, math.floor((free - promptNanos) / outNanos)) end
  local n = math.ceil(promptNanos + outNanos * grant)
  if n > 0 then
    redis.call('HSET', held, rid, n)
    redis.call('HINCRBY', held, '+', n)
    redis.call('ZADD', holds, expiry, rid)
    redis.call('PEXPIREAT', holds, expiry)
    redis.call('PEXPIREAT', held, expiry)
  end
  return {1, spent, others, grant, 0}
end
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

// LIMIT (a function): a sliding 60-second window of requests and tokens on one request log, token log and token
// sum (a cache of the token log's total, recounted when missing). Returns {1 | 0 (refused), remaining requests
// (-1: no limit), requests reset ms, remaining tokens (-1), tokens reset ms, retry-after ms, requests counted}.
const LIMIT_FUNCTION = `
local function tokens_of(entries)
  local n = 0
  for i = 1, #entries do n = n + tonumber(string.match(entries[i], '^(%d+):')) end
  return n
end
local function limit(requests, tokens, tokenSum, rpm, tpm, now)
  local window = 60000
  local out = {1, -1, 0, -1, 0, 0, 0}
  if tpm > 0 then
    local used = redis.call('GET', tokenSum)
    local expired = redis.call('ZRANGEBYSCORE', tokens, '-inf', now - window)
    redis.call('ZREMRANGEBYSCORE', tokens, '-inf', now - window)
    if not used then
      -- No running sum yet (or it expired apart from the log): count the log once.
      used = tokens_of(redis.call('ZRANGE', tokens, 0, -1))
    else
      used = math.max(tonumber(used) - tokens_of(expired), 0)
    end
    local first = redis.call('ZRANGE', tokens, 0, 0, 'WITHSCORES')
    if #first == 0 then used = 0 end
    if used > 0 then
      redis.call('SET', tokenSum, used, 'PX', window)
    else
      redis.call('DEL', tokenSum)
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
    redis.call('ZREMRANGEBYSCORE', requests, '-inf', now - window)
    local count = redis.call('ZCARD', requests)
    out[7] = count
    out[2] = rpm - count
    if count >= rpm then
      local oldest = redis.call('ZRANGE', requests, 0, 0, 'WITHSCORES')
      out[1] = 0
      out[2] = 0
      out[3] = math.ceil(tonumber(oldest[2]) + window - now)
      out[6] = out[3]
    end
  end
  return out
end
local function log_request(requests, rpm, rid, now, out)
  if rpm == 0 then return end
  redis.call('ZADD', requests, now, rid)
  redis.call('PEXPIRE', requests, 60000)
  local oldest = redis.call('ZRANGE', requests, 0, 0, 'WITHSCORES')
  out[2] = rpm - out[7] - 1
  out[3] = math.ceil(tonumber(oldest[2]) + 60000 - now)
end
`;

// ADMIT decides in this order, and a refused request is charged nothing:
//   1. the key's tokens, then requests, per minute  (0 = none) → verdict 0 (rate limited)
//   2. the same for the request's route, when the key limits it → verdict 0, route flag set
//   3. concurrency          (0 = none)  → verdict 3 (as many unexpired leases as the key may hold)
//   4. budget              (-1 = none)  → verdict 2 (HOLD refused)
//   5. admitted: the request id joins the request logs, takes a lease and holds its cost → verdict 1
// KEYS: request log, token log, token sum, spend, leases, holds, held, the route's request log, token log, sum.
// ARGV: rpm, tpm, request id, budget amount in nano-USD, max concurrent requests, in-flight lifetime ms,
//       prompt nano-USD, nano-USD per completion token, max completion tokens, least completion tokens,
//       the route's rpm, the route's tpm.
// Returns {verdict, remaining requests (-1: no limit), requests reset ms, remaining tokens (-1), tokens reset ms,
// retry-after ms, spent nano-USD, held nano-USD, granted completion tokens, 1 when the holds stand in the way,
// 1 when the route's limit refused}.
export const ADMIT = `${HOLD_FUNCTION}${LIMIT_FUNCTION}
local now = clock()
local rpm = tonumber(ARGV[1])
local budget = tonumber(ARGV[4])
local ttl = tonumber(ARGV[6])
local rrpm = tonumber(ARGV[11])
local k = limit(KEYS[1], KEYS[2], KEYS[3], rpm, tonumber(ARGV[2]), now)
local out = {k[1], k[2], k[3], k[4], k[5], k[6], 0, 0, tonumber(ARGV[9]), 0, 0}
if k[1] == 0 then return out end
local r = {1, -1, 0, -1, 0, 0, 0}
if rrpm > 0 or tonumber(ARGV[12]) > 0 then
  r = limit(KEYS[8], KEYS[9], KEYS[10], rrpm, tonumber(ARGV[12]), now)
  if r[1] == 0 then
    out[1] = 0
    out[6] = r[6]
    out[11] = 1
    return out
  end
end
local concurrent = tonumber(ARGV[5])
if concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
  if redis.call('ZCARD', KEYS[5]) >= concurrent then
    out[1] = 3
    out[6] = 1000
    return out
  end
end
if budget >= 0 then
  local h = hold(KEYS[4], KEYS[6], KEYS[7], budget, tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]),
    tonumber(ARGV[10]), ARGV[3], now + ttl, now)
  out[7] = h[2]
  out[8] = h[3]
  out[9] = h[4]
  out[10] = h[5]
  if h[1] == 0 then
    out[1] = 2
    if h[5] == 1 then out[6] = 1000 end
    return out
  end
end
log_request(KEYS[1], rpm, ARGV[3], now, k)
out[2] = k[2]
out[3] = k[3]
log_request(KEYS[8], rrpm, ARGV[3], now, r)
if concurrent > 0 then
  redis.call('ZADD', KEYS[5], now + ttl, ARGV[3])
  redis.call('PEXPIRE', KEYS[5], ttl)
end
return out`;

// HOLD_ONLY: a budget shared by a group (admission.ts), held before the key is admitted.
// KEYS: spend, holds, held. ARGV: amount, prompt nano-USD, nano-USD per completion token, max completion tokens,
// least completion tokens, request id, in-flight lifetime ms. Returns what HOLD returns.
export const HOLD_ONLY = `${HOLD_FUNCTION}
local now = clock()
return hold(KEYS[1], KEYS[2], KEYS[3], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]),
  tonumber(ARGV[5]), ARGV[6], now + tonumber(ARGV[7]), now)`;

// SETTLE charges what an admitted request used, whatever ended it (an answer, an error, a cut stream), and gives
// back what it held: its budget hold and its lease.
// KEYS: token log, token sum, spend, leases, holds, held, the route's token log, its token sum.
// ARGV: tokens (0 = no token limit to charge), request id, cost in nano-USD (0 = nothing to charge), the spend
// counter's lifetime in ms, tokens for the route's token limit (0 = none). Tokens are charged once per request
// id (a retried settlement counts once).
export const SETTLE = `
local function charge(log, sum, n, rid)
  if n <= 0 then return end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if redis.call('ZADD', log, now, n .. ':' .. rid) == 1 and redis.call('EXISTS', sum) == 1 then
    redis.call('INCRBY', sum, n)
  end
  redis.call('PEXPIRE', log, 60000)
  redis.call('PEXPIRE', sum, 60000)
end
charge(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV[2])
charge(KEYS[7], KEYS[8], tonumber(ARGV[5]), ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
local held = redis.call('HGET', KEYS[6], ARGV[2])
if held then
  redis.call('HDEL', KEYS[6], ARGV[2])
  redis.call('HINCRBY', KEYS[6], '+', -tonumber(held))
  redis.call('ZREM', KEYS[5], ARGV[2])
end
local nanos = tonumber(ARGV[3])
if nanos > 0 then
  redis.call('INCRBY', KEYS[3], ARGV[3])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return 1`;
