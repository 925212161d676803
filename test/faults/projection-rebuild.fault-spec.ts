import { spawn } from 'node:child_process';
import { Topics } from '@keygate/contracts';
import { api, type MockProvider, type PrivateRedis, privateRedis, startMockProvider } from '@keygate/testing';
import { buildFaultStack, startGroupsAtEnd, steadyBrokers, type FaultStack } from './support/fault-stack';
import { chatOnce, createGroup, createKeyOnce, log, loop, sleep, type ChatResult } from './support/load';
import { projectionGaps } from './support/consistency';

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
const KEYS = 1000;
const LANES = 4;

// A secret and the instant (the admin's answer) from which it must never work again.
interface Dead {
  secret: string;
  keyId: string;
  since: number;
}

// Keys are created, rotated and revoked while the projection's Redis is flushed (the gateway heals it by itself) and
// while `rebuild-projection --wipe` runs. Sampled all along: no secret answers 200 to a request sent after the answer
// that ended it. At the end the projection matches the key-service's store exactly (`npm run verify-projection`).
describe('projection rebuilds under churn', () => {
  let mock: MockProvider | undefined;
  let redis: PrivateRedis | undefined;
  let stack: FaultStack;
  let groupId: string;

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0, maxRecorded: 0 });
    redis = await privateRedis();
    stack = await buildFaultStack({
      kafkaBrokers: steadyBrokers(),
      redisUrl: redis.url,
      postgresServer: SHARED_PG,
      mockUrl: mock.url,
      env: { AUTH_CACHE_TTL_MS: '30000' },
    });
    await startGroupsAtEnd(steadyBrokers(), [[stack.env.GATEWAY_PROJECTION_GROUP, Topics.keysEvents]]);
    await Promise.all([stack.start('key-service'), stack.start('gateway')]);
    groupId = await createGroup(stack);
  }, 180_000);

  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 60_000);

  it('never serves a revoked or rotated-out secret, and ends with no drift', async () => {
    const admin = api(stack.keyServiceUrl, stack.adminToken);
    const dead: Dead[] = [];
    const live = new Map<string, string>(); // keyId → its newest secret
    let created = 0;

    const rotate = async (id: string, grace: number) => {
      const res = await admin<{ key: string }>('POST', `/v1/keys/${id}/rotate`, {
        gracePeriodSeconds: grace,
      });
      if (res.status !== 201) throw new Error(`rotate: ${res.status} ${JSON.stringify(res.body)}`);
      return { key: res.body.key, at: Date.now() };
    };
    // One key's life: created, then rotated (with and without grace) and/or revoked.
    const churnOne = async () => {
      const c = await createKeyOnce(stack, groupId);
      if (c.status !== 201 || !c.id || !c.key) throw new Error(`create: ${JSON.stringify(c)}`);
      created++;
      const id = c.id;
      const plan = created % 4;
      if (plan === 0) {
        live.set(id, c.key);
        return;
      }
      // grace 60 s, then grace 0: the first secret dies at the second rotation, the second at once too.
      const s2 = await rotate(id, 60);
      const s3 = await rotate(id, 0);
      dead.push({ secret: c.key, keyId: id, since: s3.at }, { secret: s2.key, keyId: id, since: s3.at });
      if (plan === 1) {
        live.set(id, s3.key);
        return;
      }
      const revoked = await admin('POST', `/v1/keys/${id}/revoke`, { reason: 'fault suite' });
      if (revoked.status !== 200) throw new Error(`revoke: ${revoked.status}`);
      dead.push({ secret: s3.key, keyId: id, since: Date.now() });
    };

    // Requests for dead secrets, chosen at random, all along.
    const sampler = loop<ChatResult & { since: number }>(
      async () => {
        const d = dead[Math.floor(Math.random() * dead.length)];
        if (!d) {
          await sleep(20);
          return { ...(await chatOnce(stack.gatewayUrl, 'kg_live_none')), since: Infinity };
        }
        return { ...(await chatOnce(stack.gatewayUrl, d.secret)), since: d.since };
      },
      { concurrency: 3 },
    );

    const events: Promise<void>[] = [];
    const lanes = Array.from({ length: LANES }, async () => {
      while (created < KEYS) {
        await churnOne();
        // At or past the mark: four lanes count `created` together, so a lane may never see it exactly.
        if (created >= Math.floor(KEYS / 4) && events.length === 0) {
          log(`${created} keys: FLUSHALL on the projection's Redis`);
          events.push(redisCli(redis!.url, 'FLUSHALL'));
        }
        if (created >= Math.floor((KEYS * 3) / 5) && events.length === 1) {
          log(`${created} keys: rebuild-projection --wipe`);
          events.push(rebuild(stack));
        }
      }
    });
    try {
      await Promise.all(lanes);
      await Promise.all(events);
    } finally {
      await sampler.stop();
    }
    expect(events).toHaveLength(2);

    const violations = sampler.results.filter((r) => r.status === 200 && r.at > r.since);
    const statuses = sampler.results.reduce<Record<string, number>>(
      (m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }),
      {},
    );
    log(
      `${created} keys, ${dead.length} dead secrets, ${sampler.results.length} sampled requests: ${JSON.stringify(statuses)}`,
    );
    expect(violations.map((v) => `${v.key.slice(0, 12)}… 200 at ${v.at}, dead since ${v.since}`)).toEqual([]);

    // The projection equals the store, and the gateway answers each secret as it should.
    const drifts = await projectionGaps(stack.keysDatabaseUrl, stack.redisUrl, 60_000);
    expect(drifts).toEqual([]);
    const deadAnswers = await Promise.all(
      dead.slice(0, 200).map((d) => chatOnce(stack.gatewayUrl, d.secret)),
    );
    expect(deadAnswers.filter((r) => r.status !== 401).map((r) => `${r.status} ${r.code}`)).toEqual([]);
    const liveAnswers = await Promise.all(
      [...live.values()].slice(0, 100).map((k) => chatOnce(stack.gatewayUrl, k)),
    );
    expect(liveAnswers.filter((r) => r.status !== 200).map((r) => `${r.status} ${r.code}`)).toEqual([]);
  }, 900_000);
});

const redisCli = (url: string, ...args: string[]): Promise<void> =>
  new Promise((resolve, reject) => {
    const port = new URL(url).port;
    const p = spawn('redis-cli', ['-p', port, ...args], { stdio: 'ignore' });
    p.once('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`redis-cli ${args.join(' ')}: ${code}`)),
    );
  });

const rebuild = (stack: FaultStack): Promise<void> =>
  new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      ['dist/apps/gateway/src/key-projection/rebuild-projection.js', '--wipe'],
      {
        env: { ...process.env, ...stack.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out += c.toString()));
    p.stderr.on('data', (c: Buffer) => (out += c.toString()));
    p.once('exit', (code) => {
      log(`rebuild-projection: ${out.trim().split('\n').slice(-2).join(' | ')}`);
      return code === 0 ? resolve() : reject(new Error(`rebuild-projection exited ${code}: ${out}`));
    });
  });
