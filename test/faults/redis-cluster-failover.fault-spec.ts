import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { generateApiKey, Topics } from '@keygate/contracts';
import { ensureRedisCluster, type RedisCluster } from '@keygate/stack';
import {
  api,
  eventually,
  startMockProvider,
  STACK_DIR,
  waitForGateway,
  type MockProvider,
} from '@keygate/testing';
import { buildFaultStack, startGroupsAtEnd, steadyBrokers, type FaultStack } from './support/fault-stack';
import { chatOnce, countBy, createGroup, log, loop, sleep, type ChatResult } from './support/load';
import { projectionGaps } from './support/consistency';
import { startGateways, type GatewayInstances } from '../e2e/support/gateway-instances';

// The gateways' warning and error lines since `since` (ms), for a failure's report.
const gatewayWarnings = async (logDir: string, since: number): Promise<string> => {
  const lines: string[] = [];
  for (const f of (await readdir(logDir)).filter((n) => n.startsWith('gateway-')))
    for (const line of (await readFile(join(logDir, f), 'utf8')).split('\n')) {
      const entry = /"level":(\d+),"time":(\d+)/.exec(line);
      if (entry && Number(entry[1]) >= 40 && Number(entry[2]) >= since)
        lines.push(`${f}: ${line.slice(0, 300)}`);
    }
  return lines.slice(0, 40).join('\n');
};

// Requests per minute of each limited key: reached after the kill (the window straddles the failover); the test's
// load lasts well under a minute.
const LIMIT = 40;

// Two gateways on a Redis Cluster of three masters with a replica each; under load the master that holds the
// projection (and some keys' limits) is SIGKILLed, so its replica takes over. During the failover revoked keys stay
// refused, unknown keys fail closed and cached keys are still served; across both gateways no limited key is
// admitted past its limit; the
// gateways recover without a restart, and the projection in the cluster matches the key-service's store.
describe('Redis Cluster: a master killed under load', () => {
  let mock: MockProvider | undefined;
  let cluster: RedisCluster | undefined;
  let inspect: Cluster | undefined;
  let stack: FaultStack;
  let gateways: GatewayInstances | undefined;
  let groupId: string;

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0, maxRecorded: 0 });
    cluster = await ensureRedisCluster({
      stackDir: STACK_DIR,
      basePort: 7401,
      dirName: 'redis-cluster-fault',
      log: (m) => log(m),
    });
    inspect = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })));
    stack = await buildFaultStack({
      kafkaBrokers: steadyBrokers(),
      redisUrl: 'redis://127.0.0.1:7401/0',
      postgresServer: 'postgres://postgres@127.0.0.1:5432',
      mockUrl: mock.url,
      env: { REDIS_CLUSTER_NODES: cluster.nodesEnv, AUTH_CACHE_TTL_MS: '1000', AUTH_STALE_SERVE_MS: '15000' },
    });
    await startGroupsAtEnd(steadyBrokers(), [[stack.env.GATEWAY_PROJECTION_GROUP, Topics.keysEvents]]);
    await stack.start('key-service');
    gateways = await startGateways(stack, 2);
    groupId = await createGroup(stack);
  }, 180_000);

  afterAll(async () => {
    await gateways?.stop().catch(() => undefined);
    await stack?.destroy().catch(() => undefined);
    inspect?.disconnect();
    await cluster?.stop().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 60_000);

  const admin = () => api(stack.keyServiceUrl, stack.adminToken);
  const newKey = async (rateLimit?: { requestsPerMinute: number }) => {
    const res = await admin()<{ id: string; key: string }>('POST', '/v1/keys', {
      name: `failover-${randomBytes(4).toString('hex')}`,
      ownerId: 'team-faults',
      groupIds: [groupId],
      ...(rateLimit ? { rateLimit } : {}),
    });
    if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  // The master that serves a Redis key's slot now (the cluster's own answer, after a refresh of the slot table).
  const masterOf = async (redisKey: string): Promise<number> => {
    const slot = Number(await inspect!.cluster('KEYSLOT', redisKey));
    await new Promise<void>((resolve) => inspect!.refreshSlotsCache(() => resolve()));
    return Number(inspect!.slots[slot][0].split(':')[1]);
  };

  it('keeps revoked keys refused, fails unknown keys closed, never admits past a limit, and recovers', async () => {
    await inspect!.ping();
    const victim = await masterOf('{kg:p3}');
    // Limited keys until two have their limits on the victim master (and so lose it mid-window).
    const limited: { id: string; key: string; onVictim: boolean }[] = [];
    while (limited.filter((k) => k.onVictim).length < 2 || limited.length < 4) {
      const k = await newKey({ requestsPerMinute: LIMIT });
      limited.push({ ...k, onVictim: (await masterOf(`{${k.id}}`)) === victim });
    }
    const [valid, revoked, revokedAfter] = [await newKey(), await newKey(), await newKey()];
    const urls = gateways!.urls;
    for (const url of urls)
      for (const k of [valid, revoked, revokedAfter]) await waitForGateway(url, k.key, 30_000);
    expect((await admin()('POST', `/v1/keys/${revoked.id}/revoke`, { reason: 'fault suite' })).status).toBe(
      200,
    );
    for (const url of urls)
      await eventually(
        () => chatOnce(url, revoked.key),
        (r) => r.status === 401,
      );
    const unknown = [generateApiKey('live'), generateApiKey('live')];

    let turn = 0;
    const probes = [valid.key, revoked.key, ...unknown];
    const traffic = loop<ChatResult>(() => chatOnce(urls[turn % 2], probes[turn++ % probes.length], 5_000), {
      concurrency: 2,
      pauseMs: 20,
    });
    let hit = 0;
    const hammer = loop<ChatResult>(
      () => chatOnce(urls[hit % 2], limited[hit++ % limited.length].key, 5_000),
      { concurrency: 3, pauseMs: 10 },
    );
    const timeline = async () => {
      await sleep(2_000);
      log(`killing master 127.0.0.1:${victim} (it holds the projection)`);
      const killed = Date.now();
      await cluster!.crashNode(victim);
      // Recovered: an unknown key is told it is unknown again (lookups answer), and a key never seen by this
      // gateway (so not cached) is served.
      const fresh = await newKey();
      await eventually(
        () => chatOnce(urls[0], unknown[0], 2_000),
        (r) => r.status === 401,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const lookups = Date.now();
      await eventually(
        () => chatOnce(urls[1], fresh.key, 2_000),
        (r) => r.status === 200,
        { timeoutMs: 30_000, intervalMs: 100 },
      );
      const served = Date.now();
      const promoted = await masterOf('{kg:p3}');
      // A revocation after the failover reaches both gateways.
      const revokedAt = Date.now();
      expect(
        (await admin()('POST', `/v1/keys/${revokedAfter.id}/revoke`, { reason: 'fault suite' })).status,
      ).toBe(200);
      for (const url of urls)
        await eventually(
          () => chatOnce(url, revokedAfter.key, 2_000),
          (r) => r.status === 401,
          { timeoutMs: 10_000, intervalMs: 50 },
        );
      const revocationMs = Date.now() - revokedAt;
      log(`restarting 127.0.0.1:${victim}: it rejoins as a replica`);
      await cluster!.restartNode(victim);
      await sleep(2_000);
      // Every limited key meets its limit before the load stops (well within its minute). How many requests that
      // takes each key depends on how many keys share the hammer's turns (until two land on the victim) and on how
      // fast the machine answered through the failover: CI once stopped a key at 37 of 40, never refused.
      await eventually(
        async () => limited.filter((k) => !hammer.results.some((r) => r.key === k.key && r.status === 429)),
        (short) => short.length === 0,
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      return { killed, lookups, served, promoted, revocationMs };
    };
    let t: Awaited<ReturnType<typeof timeline>>;
    try {
      t = await timeline();
    } finally {
      await Promise.all([traffic.stop(), hammer.stop()]);
    }
    const calls = traffic.results;
    log(
      `failover: master ${victim} → ${t.promoted}; lookups answer again ${t.lookups - t.killed} ms after the kill, ` +
        `an uncached key served after ${t.served - t.killed} ms; a revocation after the failover reached both ` +
        `gateways in ${t.revocationMs} ms; ${calls.length + hammer.results.length} requests`,
    );
    expect(t.promoted).not.toBe(victim);

    // Every answer is a documented one, and none hangs.
    for (const r of [...calls, ...hammer.results]) {
      expect([200, 401, 429, 503]).toContain(r.status);
      expect(r.ms).toBeLessThan(5_000);
    }
    const of = (key: string) => calls.filter((r) => r.key === key);
    // Revoked stays refused on both gateways; unknown keys fail closed (401 when known to be unknown, else 503).
    expect(of(revoked.key).filter((r) => r.status === 200)).toEqual([]);
    for (const k of unknown) {
      expect(of(k).filter((r) => r.status === 200)).toEqual([]);
      expect(
        of(k)
          .filter((r) => r.status === 503)
          .every((r) => r.code === 'auth_unavailable'),
      ).toBe(true);
    }
    const during = calls.filter((r) => r.at >= t.killed && r.at < t.lookups);
    const refusedCached = during.filter((r) => r.key === valid.key && r.status !== 200);
    for (const r of refusedCached)
      log(
        `cached key refused ${r.at - t.killed} ms after the kill: ${r.status} ${r.code} (${r.message}) in ${r.ms} ms`,
      );
    if (refusedCached.length)
      log(`the gateways' warnings:\n${await gatewayWarnings(stack.logDir, t.killed)}`);
    // A key both gateways had cached is served through the failover (within AUTH_STALE_SERVE_MS), not refused.
    expect(refusedCached).toEqual([]);
    expect(during.filter((r) => r.key === valid.key).length).toBeGreaterThan(0);
    const statuses = countBy(during, (r) => `${r.status}${r.code ? ` ${r.code}` : ''}`);
    log(`answers while the master was being replaced: ${JSON.stringify(statuses)}`);

    // The limiter: across both gateways, never more than the limit in the window, for keys on any master.
    for (const k of limited) {
      const answers = hammer.results.filter((r) => r.key === k.key);
      const admitted = answers.filter((r) => r.status === 200);
      const before = admitted.filter((r) => r.at < t.killed).length;
      log(
        `limited key ${k.id}${k.onVictim ? ' (on the killed master)' : ''}: admitted ${admitted.length} ` +
          `(${before} before the kill) of ${answers.length}`,
      );
      expect(admitted.length).toBeLessThanOrEqual(LIMIT);
      expect(answers.some((r) => r.status === 429)).toBe(true);
    }
    // Nothing of the projection was lost with the master: it matches the key-service's store.
    const target = { REDIS_URL: stack.redisUrl, REDIS_CLUSTER_NODES: cluster!.nodes };
    expect(await projectionGaps(stack.keysDatabaseUrl, target, 10_000)).toEqual([]);
  }, 240_000);
});
