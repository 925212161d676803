import type { KeyDocument } from '../key-projection/key-document';
import { admissionPlan, compileKey } from './compiled-key';

const doc = (over: Partial<KeyDocument> = {}): KeyDocument => ({
  keyId: 'key_1',
  v: 1,
  status: 'active',
  environment: 'live',
  hash: 'H2',
  previous: { hash: 'H1', validUntil: '2026-03-01T00:00:00.000Z' },
  expiresAt: '2026-06-01T00:00:00.000Z',
  ipAllow: ['10.0.0.0/8'],
  ipDeny: [],
  rateLimit: { tier: 'free', tokensPerMinute: 500 },
  budget: { amountUsd: '12.5', period: 'month' },
  groupIds: [],
  suspension: null,
  ...over,
});
const tiers = { free: { requestsPerMinute: 60, tokensPerMinute: 1000 } };
const JAN_31 = Date.parse('2026-01-31T23:59:59.000Z');

describe('a key compiled once when it enters the cache', () => {
  it('holds its instants, IP matchers, limit, budget and Redis names', () => {
    const k = compileKey(doc(), tiers, JAN_31);
    expect(k.previousValidUntilMs).toBe(Date.parse('2026-03-01T00:00:00.000Z'));
    expect(k.expiresAtMs).toBe(Date.parse('2026-06-01T00:00:00.000Z'));
    expect(k.ipOpen).toBe(false);
    expect(k.ipRules.allow).toHaveLength(1);
    expect(k.limit).toEqual({ requestsPerMinute: 60, tokensPerMinute: 500 });
    expect(k.plan.keys).toEqual({
      requests: 'kg:rl:{key_1}:r',
      tokens: 'kg:rl:{key_1}:t',
      tokenSum: 'kg:rl:{key_1}:ts',
      leases: 'kg:rl:{key_1}:c',
    });
    expect(k.plan.budget).toMatchObject({
      amountNanos: 12_500_000_000,
      counter: { key: 'kg:spend:{key_1}:month:2026-01-01' },
    });
  });

  it('never expires without an expiry, has no grace without a rotation, and refuses an unknown tier', () => {
    const k = compileKey(
      doc({ expiresAt: null, previous: null, rateLimit: { tier: 'gone' } }),
      tiers,
      JAN_31,
    );
    expect(k.expiresAtMs).toBe(Infinity);
    expect(k.previousHash).toBeNull();
    expect(k.previousValidUntilMs).toBe(-Infinity);
    expect(k.limit).toBeUndefined();
    expect(k.plan.limit).toBeNull();
  });

  it("names the next period's spend counter once the budget period has rolled over", () => {
    const k = compileKey(doc(), tiers, JAN_31);
    expect(admissionPlan(k, JAN_31 + 500).budget?.counter.key).toBe('kg:spend:{key_1}:month:2026-01-01');
    expect(admissionPlan(k, JAN_31 + 2000).budget?.counter.key).toBe('kg:spend:{key_1}:month:2026-02-01');
    expect(admissionPlan(k, JAN_31 + 2000).budget?.counter.ttlMs).toBeGreaterThan(28 * 86_400_000);
  });
});
