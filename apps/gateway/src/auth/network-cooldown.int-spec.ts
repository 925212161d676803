import { randomInt } from 'node:crypto';
import { Redis } from 'ioredis';
import { metricsText } from '@keygate/platform';
import { TEST_REDIS_URL, eventually } from '@keygate/testing';
import { NetworkCooldown, type CooldownOptions } from './network-cooldown';

// Two gateway instances' cool-down tables against the real Redis: one shared count per network, the instance that
// reaches the limit tells the other, a late starter reads the table, and nothing is refused that should not be.
describe('NetworkCooldown (real Redis)', () => {
  const connections: Redis[] = [];
  const connect = async (): Promise<Redis> => {
    const r = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
    connections.push(r);
    await new Promise<void>((resolve) => r.once('ready', () => resolve()));
    return r;
  };
  const instance = async (o: Partial<CooldownOptions> = {}): Promise<NetworkCooldown> => {
    const c = new NetworkCooldown(await connect(), await connect(), {
      seconds: 30,
      failures: 20,
      windowSeconds: 60,
      exempt: (ip) => ip === '127.0.0.1',
      ...o,
    });
    await c.onApplicationBootstrap();
    return c;
  };
  // A network of this run's own: the counters and the table are shared by every run on this Redis db.
  const net = () => `198.18.${randomInt(256)}.`;

  afterAll(() => connections.forEach((c) => c.disconnect()));

  it('refuses a network on every instance once its invalid keys reach the limit, and nobody else', async () => {
    const [a, b] = [await instance(), await instance()];
    const n = net();
    for (let i = 0; i < 19; i++) (i % 2 ? a : b).failed(`${n}${i}`, 'invalid_api_key');
    // Not refused below the limit; an outage of ours (auth_unavailable) is no guess and counts for nothing.
    for (let i = 0; i < 5; i++) a.failed(`${n}1`, 'auth_unavailable');
    await new Promise((r) => setTimeout(r, 300));
    expect(a.refusal(`${n}1`)).toBeNull();
    expect(b.refusal(`${n}1`)).toBeNull();
    b.failed(`${n}7`, 'key_revoked');
    await eventually(
      async () => [a.refusal(`${n}200`), b.refusal(`${n}7`)],
      ([x, y]) => x !== null && y !== null,
    );
    expect(a.refusal(`${n}200`)).toBeGreaterThan(25);
    expect(a.refusal(`${n}200`)).toBeLessThanOrEqual(30);
    // Another network, and the trusted proxy, are never refused.
    expect(a.refusal('198.19.0.7')).toBeNull();
    expect(b.refusal('127.0.0.1')).toBeNull();
    // An instance started later learns it from the table.
    const late = await instance();
    expect(late.refusal(`${n}9`)).not.toBeNull();
    const text = await metricsText();
    expect(text).toMatch(/keygate_gateway_network_cooldowns_total(\{[^}]*\})? 1\b/);
    expect(text).toMatch(/keygate_gateway_invalid_keys_total\{[^}]*code="invalid_api_key"[^}]*\} 19\b/);
  });

  it('lets the network in again when the cool-down is over', async () => {
    const a = await instance({ seconds: 1, failures: 3 });
    const n = net();
    for (let i = 0; i < 3; i++) a.failed(`${n}1`, 'invalid_api_key');
    await eventually(
      async () => a.refusal(`${n}1`),
      (s) => s !== null,
    );
    await eventually(
      async () => a.refusal(`${n}1`),
      (s) => s === null,
      { timeoutMs: 3_000, intervalMs: 100 },
    );
  });

  it('counts nothing and refuses nothing when it is off, and never counts the trusted proxy', async () => {
    const off = await instance({ seconds: 0, failures: 1 });
    const on = await instance({ failures: 1 });
    const n = net();
    off.failed(`${n}1`, 'invalid_api_key');
    on.failed('127.0.0.1', 'invalid_api_key');
    await new Promise((r) => setTimeout(r, 300));
    expect(off.refusal(`${n}1`)).toBeNull();
    expect(on.refusal(`${n}1`)).toBeNull();
    expect(on.refusal('127.0.0.5')).toBeNull();
  });
});
