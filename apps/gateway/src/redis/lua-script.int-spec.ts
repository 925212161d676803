import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from '@keygate/testing';
import { LuaScript } from './lua-script';

// EVALSHA, and EVAL where Redis does not know the script (yet, or any more): on the real Redis.
describe('LuaScript', () => {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true, enableAutoPipelining: true });
  const key = `kg:test:lua:${randomBytes(6).toString('hex')}`;
  // A script of its own (a random comment), so no other test has loaded it.
  const incr = new LuaScript(
    `-- ${randomBytes(8).toString('hex')}\nreturn {redis.call('INCRBY', KEYS[1], ARGV[1]), tonumber(ARGV[2])}`,
    1,
  );

  beforeAll(() => redis.connect());
  afterAll(async () => {
    await redis.del(key);
    redis.disconnect();
  });

  it('runs a script Redis has never seen, then by its hash', async () => {
    expect(await incr.run(redis, [key, 2, 7])).toEqual([2, 7]);
    expect(await incr.run(redis, [key, 3, 8])).toEqual([5, 8]);
  });

  it('runs again after Redis forgot every script (a restart, a promoted replica)', async () => {
    await redis.script('FLUSH');
    const [a, b] = await Promise.all([incr.run(redis, [key, 1, 0]), incr.run(redis, [key, 1, 0])]);
    expect([a[0], b[0]].sort()).toEqual([6, 7]);
  });

  it('passes any other error on', async () => {
    const failing = new LuaScript(`return redis.error_reply('KGFAIL ${randomBytes(4).toString('hex')}')`, 0);
    await expect(failing.run(redis, [])).rejects.toThrow(/KGFAIL/);
  });
});
