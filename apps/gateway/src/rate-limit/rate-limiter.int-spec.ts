import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '@keygate/testing';
import { RateLimiter } from './rate-limiter';

// The limiter's Lua scripts on the real Redis: the running token sum agrees with the token log, a request
// charged twice counts once, and a log written without a sum (or whose sum was lost) is counted once from scratch.
describe('RateLimiter on Redis', () => {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  const limiter = new RateLimiter(redis);
  const keyId = `key_rltest${randomBytes(6).toString('hex')}`;
  const limit = { requestsPerMinute: 1000, tokensPerMinute: 100 };
  let n = 0;
  const check = () => limiter.check(keyId, limit, `req_${n++}`);

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
    const big = { requestsPerMinute: 1_000_000, tokensPerMinute: 1_000_000_000 };
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
});
