import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '@keygate/testing';
import { Admission, admissionKeys, BATCH_FROM, type AdmissionPlan } from './admission';
import type { EffectiveLimit } from '../rate-limit/rate-limiter';

// The admission and settlement Lua scripts on the real Redis: the running token sum agrees with the token log, a
// request charged twice counts once, a log written without a sum (or whose sum was lost) is counted once from
// scratch, and a lease per request in flight caps it. Budgets and their holds: budget-holds.int-spec.ts.
describe('Admission on Redis', () => {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  const admission = new Admission(redis);
  const keyId = `key_rltest${randomBytes(6).toString('hex')}`;
  const limit = { requestsPerMinute: 1000, tokensPerMinute: 100 };
  const planOf = (id: string, l: EffectiveLimit | null, budget: AdmissionPlan['budget'] = null) => ({
    keys: admissionKeys(id),
    limit: l,
    budget,
    groupBudgets: [],
  });
  const plan = planOf(keyId, limit);
  let n = 0;
  const check = async () => {
    const d = await admission.admit(plan, `req_${n++}`);
    return { ...d, allowed: d.verdict === 'admitted' };
  };
  const limiter = {
    chargeTokens: (id: string, _l: EffectiveLimit, tokens: number, requestId: string) =>
      admission.settle(id === keyId ? plan : planOf(id, big), requestId, tokens, 0),
    check: async (id: string, l: EffectiveLimit, requestId: string) =>
      admission.admit(planOf(id, l), requestId),
  };
  const big = { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 };

  beforeAll(() => redis.connect());
  afterAll(async () => {
    await redis.del(`kg:rl:{${keyId}}:r`, `kg:rl:{${keyId}}:t`, `kg:rl:{${keyId}}:ts`);
    redis.disconnect();
  });

  it('counts requests and tokens, charges each request once, and refuses at the token limit', async () => {
    const first = await check();
    expect(first).toMatchObject({ allowed: true, remainingRequests: 999, remainingTokens: 100 });

    await limiter.chargeTokens(keyId, limit, 30, 'req_a');
    await limiter.chargeTokens(keyId, limit, 30, 'req_a'); // a retried charge of the same request
    await limiter.chargeTokens(keyId, limit, 25, 'req_b');
    expect((await check()).remainingTokens).toBe(45);

    // The sum lost (or never written, as by a gateway before it existed): recounted from the log.
    await redis.del(`kg:rl:{${keyId}}:ts`);
    expect((await check()).remainingTokens).toBe(45);
    await limiter.chargeTokens(keyId, limit, 45, 'req_c');
    const refused = await check();
    expect(refused).toMatchObject({ allowed: false, remainingTokens: 0 });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(60_000);
    // A refused request is not charged: three admitted.
    expect(await redis.zcard(`kg:rl:{${keyId}}:r`)).toBe(3);
  });

  it('keeps a busy key cheap: 20,000 charged requests in the window, each check still answers from the sum', async () => {
    const busy = `${keyId}b`;
    const pipeline = redis.pipeline();
    const now = Date.now();
    for (let i = 0; i < 20_000; i++) pipeline.zadd(`kg:rl:{${busy}}:t`, now, `10:req_${i}`);
    await pipeline.exec();
    try {
      // First check: no sum yet, the log is counted once.
      expect((await limiter.check(busy, big, 'req_x')).remainingTokens).toBe(1_000_000_000 - 200_000);
      await limiter.chargeTokens(busy, big, 7, 'req_y');
      expect((await limiter.check(busy, big, 'req_z')).remainingTokens).toBe(1_000_000_000 - 200_007);
      // The sum is what the next check reads: it is there and agrees with the log.
      expect(Number(await redis.get(`kg:rl:{${busy}}:ts`))).toBe(200_007);
    } finally {
      await redis.del(`kg:rl:{${busy}}:r`, `kg:rl:{${busy}}:t`, `kg:rl:{${busy}}:ts`);
    }
  });

  it('holds a lease per request in flight: refuses beyond the cap, takes one back on release or when it expires', async () => {
    const id = `key_cctest${randomBytes(6).toString('hex')}`;
    const shortLeases = new Admission(redis, 1_000);
    const capped = planOf(id, { requestsPerMinute: 100, tokensPerMinute: 0, maxConcurrentRequests: 2 });
    const admit = async (requestId: string) => (await shortLeases.admit(capped, requestId)).verdict;
    expect(await admit('req_1')).toBe('admitted');
    expect(await admit('req_2')).toBe('admitted');
    const refused = await shortLeases.admit(capped, 'req_3');
    expect(refused).toMatchObject({ verdict: 'concurrency_limited', retryAfterMs: 1000 });
    // Refused: neither a lease nor a place in the request log.
    expect(await redis.zcard(admissionKeys(id).leases)).toBe(2);
    expect(await redis.zcard(admissionKeys(id).requests)).toBe(2);
    await shortLeases.settle(capped, 'req_1', 0, 0);
    expect(await admit('req_4')).toBe('admitted');
    expect(await admit('req_5')).toBe('concurrency_limited');
    // The gateway holding req_2 and req_4 died: their leases expire with their lifetime.
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await admit('req_6')).toBe('admitted');
    expect(await admit('req_7')).toBe('admitted');
    expect(await admit('req_8')).toBe('concurrency_limited');
    await redis.del(...Object.values(admissionKeys(id)));
  });

  it('limits a route on top of the key: its own window per route, refusals write nothing', async () => {
    const id = `key_rttest${randomBytes(6).toString('hex')}`;
    const routed = planOf(id, {
      requestsPerMinute: 5,
      tokensPerMinute: 0,
      routes: { 'gpt-4o': { requestsPerMinute: 2 }, 'gpt-4o-mini': { tokensPerMinute: 100 } },
    });
    const admit = (rid: string, route: string) => admission.admit(routed, rid, undefined, route);
    expect((await admit('req_1', 'gpt-4o')).verdict).toBe('admitted');
    expect((await admit('req_2', 'gpt-4o')).verdict).toBe('admitted');
    const refused = await admit('req_3', 'gpt-4o');
    expect(refused).toMatchObject({
      verdict: 'rate_limited',
      routeLimited: { route: 'gpt-4o', requestsPerMinute: 2 },
    });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    // The key's window counted the two admitted only; another route is still open.
    expect(await redis.zcard(admissionKeys(id).requests)).toBe(2);
    expect(await admit('req_4', 'gpt-4o-mini')).toMatchObject({ verdict: 'admitted', remainingRequests: 2 });
    // A route's token limit is charged at settlement, for that route only.
    await admission.settle(routed, 'req_4', 100, 0, 'gpt-4o-mini');
    expect((await admit('req_5', 'gpt-4o-mini')).routeLimited).toMatchObject({ route: 'gpt-4o-mini' });
    expect((await admit('req_6', 'text-embedding-3-small')).verdict).toBe('admitted');
    // The key's own limit still holds over every route: 5 a minute.
    expect((await admit('req_7', 'text-embedding-3-small')).verdict).toBe('admitted');
    expect(await admit('req_8', 'text-embedding-3-small')).toMatchObject({
      verdict: 'rate_limited',
      routeLimited: null,
    });
    const k = admissionKeys(id);
    await redis.del(
      ...Object.values(k),
      `${k.requests}:gpt-4o`,
      `${k.tokens}:gpt-4o-mini`,
      `${k.tokenSum}:gpt-4o-mini`,
    );
  });

  it('writes a lone call at once, and on a single Redis the calls of one event-loop iteration together while others are in flight', async () => {
    const id = `key_cktest${randomBytes(6).toString('hex')}`;
    const p = planOf(id, { requestsPerMinute: 3, tokensPerMinute: 0 });
    const socket = redis.stream;
    const writes = jest.spyOn(socket, 'write');
    try {
      // Nothing in flight: the call reaches the socket at once (nothing held in its buffer).
      const lone = admission.admit(p, 'req_lone');
      expect(socket.writableCorked).toBe(0);
      expect(socket.writableLength).toBe(0);
      // More while it is in flight, beyond BATCH_FROM (no batching connection: a single Redis's are all held):
      // held together until the iteration's check phase, then one write.
      const more = Array.from({ length: BATCH_FROM + 3 }, (_, i) => admission.admit(p, `req_${i}`));
      expect(writes).toHaveBeenCalledTimes(BATCH_FROM + 4);
      expect(socket.writableCorked).toBe(1);
      expect(socket.writableLength).toBeGreaterThan(0);
      await new Promise(setImmediate);
      expect(socket.writableCorked).toBe(0);
      // Decided as ever, in the order sent: the limit of 3 refuses the fourth and every later one.
      const verdicts = (await Promise.all([lone, ...more])).map((d) => d.verdict);
      expect(verdicts.slice(0, 4)).toEqual(['admitted', 'admitted', 'admitted', 'rate_limited']);
      expect(new Set(verdicts.slice(3))).toEqual(new Set(['rate_limited']));
      expect(await redis.zcard(admissionKeys(id).requests)).toBe(3);
      // All landed: the next call is alone again, written at once.
      void admission.admit(p, 'req_next');
      expect(socket.writableCorked).toBe(0);
    } finally {
      writes.mockRestore();
      await redis.del(...Object.values(admissionKeys(id)));
    }
  });

  it('with a batching connection (a Redis Cluster), sends calls by it only while many are in flight, and decides them all the same', async () => {
    const batching = new Redis(TEST_REDIS_URL, { enableAutoPipelining: true });
    const both = new Admission(redis, 300_000, batching);
    const id = `key_bftest${randomBytes(6).toString('hex')}`;
    const capped = planOf(id, { requestsPerMinute: 25, tokensPerMinute: 0, maxConcurrentRequests: 30 });
    const by = {
      direct: jest.spyOn(redis as never, 'kgAdmit'),
      batching: jest.spyOn(batching as never, 'kgAdmit'),
    };
    // Calls made on each client (auto-pipelining calls the method again on its pipeline object: not counted).
    const calls = () => [
      by.direct.mock.contexts.filter((c) => c === redis).length,
      by.batching.mock.contexts.filter((c) => c === batching).length,
    ];
    try {
      // One at a time: never batched.
      expect((await both.admit(capped, 'req_one')).verdict).toBe('admitted');
      expect(calls()).toEqual([1, 0]);
      // 39 at once: the first BATCH_FROM go at once, the rest in batches; the limit holds across both.
      const verdicts = await Promise.all(
        Array.from({ length: 39 }, (_, i) => both.admit(capped, `req_${i}`).then((d) => d.verdict)),
      );
      expect(calls()).toEqual([1 + BATCH_FROM, 39 - BATCH_FROM]);
      expect(verdicts.filter((v) => v === 'admitted')).toHaveLength(24);
      expect(verdicts.filter((v) => v === 'rate_limited')).toHaveLength(15);
      expect(await redis.zcard(admissionKeys(id).requests)).toBe(25);
      // Every call landed: the next one goes at once again, and settles give every lease back.
      await Promise.all(Array.from({ length: 39 }, (_, i) => both.settle(capped, `req_${i}`, 0, 0)));
      await both.settle(capped, 'req_one', 0, 0);
      expect(await redis.zcard(admissionKeys(id).leases)).toBe(0);
      const [direct, batched] = calls();
      await both.admit(capped, 'req_last');
      expect(calls()).toEqual([direct + 1, batched]);
    } finally {
      by.direct.mockRestore();
      by.batching.mockRestore();
      batching.disconnect();
      await redis.del(...Object.values(admissionKeys(id)));
    }
  });
});
