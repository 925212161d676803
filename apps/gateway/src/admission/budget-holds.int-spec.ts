import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '@keygate/testing';
import { budgetPlan } from '../budget/budget-guard';
import { Admission, admissionKeys, type AdmissionPlan, type CostAsk } from './admission';

// Budget holds on the real Redis: a request holds its worst case against what is neither spent nor held, is
// clamped to what the rest pays for, is refused (and writes nothing) when it cannot pay for the least answer, and
// gives its hold back when it settles or, its gateway dead, when the hold expires. A group's budget is held
// before the key's and given back when the key refuses.
describe('Budget holds on Redis', () => {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  const admission = new Admission(redis);
  const run = randomBytes(6).toString('hex');
  const now = Date.now();
  // 1,000,000 nano-USD = 0.001 USD.
  const budget = { amountUsd: '0.001', period: 'day' as const };
  // A prompt of 1,000 nano-USD, 100 nano-USD per completion token, at most 5,000 of them.
  const ask: CostAsk = { promptNanos: 1000, outNanos: 100, maxTokens: 5000, minTokens: 1 };
  const planFor = (keyId: string, own: boolean, groups: string[] = [], rpm = 0): AdmissionPlan => ({
    keys: admissionKeys(keyId),
    limit: rpm ? { requestsPerMinute: rpm, tokensPerMinute: 0 } : null,
    budget: own ? budgetPlan('key', keyId, budget, now) : null,
    groupBudgets: groups.map((g) => budgetPlan('group', g, budget, now)),
  });
  const held = async (p: AdmissionPlan, group = false): Promise<number> =>
    Number((await redis.hget((group ? p.groupBudgets[0] : p.budget)!.held, '+')) ?? 0);
  const spent = async (p: AdmissionPlan): Promise<number> =>
    Number((await redis.get(p.budget!.counter.key)) ?? 0);
  const created: string[] = [];
  const plan = (...args: Parameters<typeof planFor>): AdmissionPlan => {
    const p = planFor(...args);
    for (const b of [p.budget, ...p.groupBudgets]) if (b) created.push(b.counter.key, b.holds, b.held);
    created.push(...Object.values(p.keys));
    return p;
  };

  beforeAll(() => redis.connect());
  afterAll(async () => {
    if (created.length > 0) await redis.del(...created);
    redis.disconnect();
  });

  it('holds the worst case, clamps to what is left, refuses when holds take the rest, settles the exact cost', async () => {
    const p = plan(`key_hold${run}a`, true, [], 100);
    // 1,000 + 5,000 × 100 = 501,000 held; 499,000 left.
    expect(await admission.admit(p, 'req_1', ask)).toMatchObject({
      verdict: 'admitted',
      grantedTokens: 5000,
    });
    expect(await held(p)).toBe(501_000);
    // The rest pays for (499,000 − 1,000) / 100 = 4,980 completion tokens: clamped, and it holds all of it.
    expect(await admission.admit(p, 'req_2', ask)).toMatchObject({
      verdict: 'admitted',
      grantedTokens: 4980,
    });
    expect(await held(p)).toBe(1_000_000);
    // Nothing left but what is held: refused, may fit later, and nothing written (no hold, no request logged).
    const refused = await admission.admit(p, 'req_3', ask);
    expect(refused).toMatchObject({ verdict: 'budget_exceeded', retryAfterMs: 1000 });
    expect(refused.refusal).toMatchObject({ spentNanos: 0, heldNanos: 1_000_000, later: true });
    expect(refused.refusal?.budget).toMatchObject({ scope: 'key', amountUsd: '0.001', period: 'day' });
    expect(await redis.zcard(p.keys.requests)).toBe(2);
    expect(await held(p)).toBe(1_000_000);
    // req_1 answered for 20,000: charged exactly, its hold given back (twice settled: given back once).
    await admission.settle(p, 'req_1', 0, 20_000);
    expect(await spent(p)).toBe(20_000);
    expect(await held(p)).toBe(499_000);
    expect(await admission.admit(p, 'req_4', ask)).toMatchObject({
      verdict: 'admitted',
      grantedTokens: 4800,
    });
    // A request that failed upstream used nothing: its hold is given back, nothing charged.
    await admission.settle(p, 'req_2', 0, 0);
    await admission.settle(p, 'req_4', 0, 0);
    expect(await held(p)).toBe(0);
    expect(await spent(p)).toBe(20_000);
  });

  it('refuses for good when what is left cannot pay for the prompt and one completion token', async () => {
    const p = plan(`key_hold${run}b`, true);
    await redis.set(p.budget!.counter.key, 999_000); // 1,000 left; the least answer costs 1,100
    const refused = await admission.admit(p, 'req_1', ask);
    expect(refused).toMatchObject({ verdict: 'budget_exceeded', retryAfterMs: 0 });
    expect(refused.refusal).toMatchObject({ spentNanos: 999_000, heldNanos: 0, later: false });
    // A cheaper request still fits: 900 for its prompt, one token.
    const small = await admission.admit(p, 'req_2', {
      promptNanos: 900,
      outNanos: 100,
      maxTokens: 10,
      minTokens: 1,
    });
    expect(small).toMatchObject({ verdict: 'admitted', grantedTokens: 1 });
    await redis.set(p.budget!.counter.key, 1_000_000);
    expect((await admission.admit(p, 'req_3', { ...ask, promptNanos: 0, outNanos: 0 })).verdict).toBe(
      'budget_exceeded',
    );
  });

  it('never holds past the budget under a race of 60 admissions', async () => {
    const p = plan(`key_hold${run}c`, true);
    // Each holds 1,000 + 1,000 × 100 = 101,000 unless clamped: nine fit whole, the tenth gets the rest clamped.
    const small: CostAsk = { promptNanos: 1000, outNanos: 100, maxTokens: 1000, minTokens: 1 };
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => admission.admit(p, `req_${i}`, small)),
    );
    const admitted = results.filter((r) => r.verdict === 'admitted');
    expect(admitted).toHaveLength(10);
    expect(admitted.filter((r) => r.grantedTokens === 1000)).toHaveLength(9);
    // 9 × 101,000 held, 91,000 left: (91,000 − 1,000) / 100 = 900 tokens, and the budget is held to the last nano.
    expect(admitted.find((r) => r.grantedTokens < 1000)?.grantedTokens).toBe(900);
    expect(await held(p)).toBe(1_000_000);
  });

  it('lets the holds of a dead gateway expire after their lifetime', async () => {
    const short = new Admission(redis, 1_000);
    const p = plan(`key_hold${run}d`, true);
    expect((await short.admit(p, 'req_1', { ...ask, maxTokens: 100_000 })).grantedTokens).toBe(9990);
    expect((await short.admit(p, 'req_2', ask)).verdict).toBe('budget_exceeded');
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await short.admit(p, 'req_3', ask)).toMatchObject({ verdict: 'admitted', grantedTokens: 5000 });
    expect(await held(p)).toBe(501_000);
  });

  it("holds a group's budget for all its keys, and gives it back when the key refuses", async () => {
    const group = `grp_hold${run}`;
    const a = plan(`key_hold${run}e`, false, [group]);
    const b = plan(`key_hold${run}f`, true, [group], 1);
    expect(await admission.admit(a, 'req_a1', ask)).toMatchObject({
      verdict: 'admitted',
      grantedTokens: 5000,
    });
    // b's own budget has room; the group's rest (499,000) clamps it.
    expect(await admission.admit(b, 'req_b1', ask)).toMatchObject({
      verdict: 'admitted',
      grantedTokens: 4980,
    });
    expect(await held(a, true)).toBe(1_000_000);
    // b's own hold is what the group granted: 1,000 + 4,980 × 100.
    expect(await held(b)).toBe(499_000);
    const refused = await admission.admit(a, 'req_a2', ask);
    expect(refused.refusal?.budget).toMatchObject({ scope: 'group', id: group });
    await admission.settle(a, 'req_a1', 0, 30_000);
    await admission.settle(b, 'req_b1', 0, 10_000);
    expect(await held(a, true)).toBe(0);
    expect(Number(await redis.get(a.groupBudgets[0].counter.key))).toBe(40_000);
    expect(await spent(b)).toBe(10_000);
    // b is at its rate limit (1 a minute): the group's hold for it is given back.
    expect((await admission.admit(b, 'req_b2', ask)).verdict).toBe('rate_limited');
    expect(await held(a, true)).toBe(0);
  });
});
