import { Topics } from '@keygate/contracts';
import {
  eventually,
  type MockProvider,
  type PrivateRedis,
  privateRedis,
  startMockProvider,
  waitForGateway,
} from '@keygate/testing';
import {
  buildFaultStack,
  groupMembers,
  startGroupsAtEnd,
  steadyBrokers,
  type FaultStack,
} from './support/fault-stack';
import {
  chatOnce,
  createGroup,
  createKeyOnce,
  log,
  loop,
  sleep,
  type ChatResult,
  type CreateResult,
} from './support/load';
import { projectionGaps } from './support/consistency';

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
// The documented outage rules (key-authenticator.ts, gateway.env.ts), with short windows to observe them.
const CACHE_TTL_MS = 1_000;
const STALE_MS = 5_000;
const OUTAGE_MS = 12_000;
const SLACK_MS = 500; // request scheduling on a busy two-core machine
// The projection consumer retries a batch it could not write with kafkajs' backoff (up to 5 s) plus a rejoin.
const REVOCATION_AFTER_RECOVERY_MS = 15_000;

// The gateway's projection lives in Redis; a private Redis here is stopped (and frozen) under load. Documented:
// revoked keys stay rejected, unknown keys fail closed with 503 auth_unavailable, a cached valid key is served for
// at most AUTH_STALE_SERVE_MS after Redis last confirmed it, and the gateway recovers without a restart.
describe('Redis outage', () => {
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
      env: { AUTH_CACHE_TTL_MS: String(CACHE_TTL_MS), AUTH_STALE_SERVE_MS: String(STALE_MS) },
    });
    await startGroupsAtEnd(steadyBrokers(), [[stack.env.GATEWAY_PROJECTION_GROUP, Topics.keysEvents]]);
    await Promise.all([stack.start('key-service'), stack.start('gateway')]);
    groupId = await createGroup(stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 60_000);

  const newKey = async (fields: Record<string, unknown> = {}): Promise<{ id: string; key: string }> => {
    const created = await createKeyOnce(stack, groupId, 15_000, fields);
    if (created.status !== 201 || !created.id || !created.key)
      throw new Error(`create failed: ${JSON.stringify(created)}`);
    return { id: created.id, key: created.key };
  };
  const revoke = (id: string) =>
    fetch(`${stack.keyServiceUrl}/v1/keys/${id}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'fault suite' }),
    }).then((r) => r.status);
  const ready = () => fetch(stack.readyUrl('gateway')).then((r) => r.status);
  const summary = (rs: ChatResult[]) => rs.map((r) => `${r.at}:${r.status}/${r.code ?? ''}`).join(' ');

  it('keeps revoked keys out, fails unknown keys closed, bounds the stale window, and recovers without a restart', async () => {
    const [a, b, c, revokedBefore, revokedDuring, unseen] = await Promise.all(
      Array.from({ length: 6 }, () => newKey()),
    );
    const known = [a, b, c];
    for (const k of [...known, revokedBefore, revokedDuring])
      await waitForGateway(stack.gatewayUrl, k.key, 30_000);
    // `unseen` must never be looked up at this gateway (that would cache it): wait for it in Redis itself.
    await eventually(
      async () => (await projectionGaps(stack.keysDatabaseUrl, stack.redisUrl)).length,
      (n) => n === 0,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    expect(await revoke(revokedBefore.id)).toBe(200);
    await eventually(
      () => chatOnce(stack.gatewayUrl, revokedBefore.key),
      (r) => r.status === 401,
    );
    const gatewayPid = stack.services.gateway!.pid;

    // `unseen` is in Redis but never asked for at this gateway, so never cached.
    const looped = [...known, revokedBefore, revokedDuring];
    let turn = 0;
    const traffic = loop<ChatResult>(() => chatOnce(stack.gatewayUrl, looped[turn++ % looped.length].key), {
      concurrency: 2,
      pauseMs: 30,
    });
    const creates = loop<CreateResult>(() => createKeyOnce(stack, groupId), { pauseMs: 500 });
    // The timeline; the load stops whatever happens, so a failure cannot leave requests running.
    const timeline = async () => {
      await sleep(3_000);

      log('stopping the private Redis');
      const stopping = Date.now();
      await redis!.stop();
      const down = Date.now();
      expect(await revoke(revokedDuring.id)).toBe(200); // the key-service does not need Redis
      const unseenDuring = await chatOnce(stack.gatewayUrl, unseen.key);
      const stranger = await newKey(); // created during the outage: the projection cannot store it yet
      await sleep(1_000);
      const strangerDuring = await chatOnce(stack.gatewayUrl, stranger.key);
      const readyDuring = await ready();
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
      log('starting the private Redis');
      await redis!.start();
      const up = Date.now();
      // Full recovery, without a restart: the keys, including those written during the outage, answer as they should.
      await eventually(ready, (s) => s === 200, { timeoutMs: 30_000, intervalMs: 200 });
      for (const k of known)
        await eventually(
          () => chatOnce(stack.gatewayUrl, k.key),
          (r) => r.status === 200,
          { timeoutMs: 20_000, intervalMs: 100 },
        );
      await eventually(
        () => chatOnce(stack.gatewayUrl, stranger.key),
        (r) => r.status === 200,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      await eventually(
        () => chatOnce(stack.gatewayUrl, revokedDuring.key),
        (r) => r.status === 401 && r.code === 'key_revoked',
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      const recovered = Date.now();
      // The projection's consumer is (again) a member of its group: it did not stop for good.
      await eventually(
        () => groupMembers(steadyBrokers(), stack.env.GATEWAY_PROJECTION_GROUP),
        (n) => n > 0,
        { timeoutMs: 30_000, intervalMs: 500 },
      );
      await sleep(2_000);
      return { stopping, down, up, unseenDuring, strangerDuring, readyDuring, recovered };
    };
    let t: Awaited<ReturnType<typeof timeline>>;
    try {
      t = await timeline();
    } finally {
      await Promise.all([traffic.stop(), creates.stop()]);
    }
    const { stopping, down, up, unseenDuring, strangerDuring, readyDuring, recovered } = t;
    const calls = traffic.results;
    const made = creates.results;
    log(
      `requests: ${calls.length}; Redis down ${((up - down) / 1000).toFixed(1)} s; ` +
        `full recovery ${((recovered - up) / 1000).toFixed(1)} s after it was back`,
    );

    const of = (k: { key: string }) => calls.filter((r) => r.key === k.key);
    const inOutage = (r: ChatResult) => r.at >= down && r.at < up;

    // Every answer is a documented one, and none hangs on the missing Redis.
    for (const r of calls) {
      expect([200, 401, 503]).toContain(r.status);
      if (r.status === 503) expect(r.code).toBe('auth_unavailable');
      expect(r.ms).toBeLessThan(2_000);
    }
    // Revoked stays revoked: 401 key_revoked throughout the outage (the gateway remembers it). Right after Redis is
    // back the reconnect clears the cache while lookups may still fail for a moment: those answer 503 (fail closed,
    // the key is not recognised as revoked for that moment). Never a 200.
    const revokedAnswers = of(revokedBefore);
    expect(revokedAnswers.filter((r) => r.status === 200)).toEqual([]);
    expect(revokedAnswers.filter(inOutage).every((r) => r.status === 401 && r.code === 'key_revoked')).toBe(
      true,
    );
    const transient = revokedAnswers.filter((r) => !(r.status === 401 && r.code === 'key_revoked'));
    expect(transient.every((r) => r.at >= up && r.status === 503 && r.code === 'auth_unavailable')).toBe(
      true,
    );
    if (transient.length)
      log(`revoked key answered 503 (not 401) ${transient.length}x just after Redis was back`);
    // Unknown keys fail closed.
    expect(unseenDuring).toMatchObject({ status: 503, code: 'auth_unavailable' });
    expect(strangerDuring).toMatchObject({ status: 503, code: 'auth_unavailable' });
    expect(unseenDuring.ms).toBeLessThan(2_000);
    expect(readyDuring).toBe(503);

    // The stale window: a cached key is served while Redis is away, for at most STALE_MS after Redis last
    // confirmed it (which was no later than `down`), then refused until Redis is back.
    for (const k of [...known, revokedDuring]) {
      const outage = of(k).filter(inOutage);
      expect(outage.some((r) => r.status === 200 && r.at < stopping + 2_000)).toBe(true);
      const late = outage.filter((r) => r.at > down + STALE_MS + SLACK_MS);
      expect(late.length).toBeGreaterThan(0);
      if (!late.every((r) => r.status === 503))
        throw new Error(`served past the stale window: ${summary(late)}`);
    }
    // A key revoked during the outage: the revocation waits in Kafka until the projection can write Redis again.
    // It is refused from the end of the stale window on; once Redis is back the projection's retry applies it
    // (within its consumer's retry backoff) and it is never served after that.
    const revokedAt = of(revokedDuring).find((r) => r.at > up && r.status === 401)?.at;
    expect(revokedAt).toBeDefined();
    log(
      `revocation issued during the outage took effect ${((revokedAt! - up) / 1000).toFixed(1)} s after Redis was back`,
    );
    expect(revokedAt! - up).toBeLessThan(REVOCATION_AFTER_RECOVERY_MS);
    const servedAfter = of(revokedDuring).filter(
      (r) => r.status === 200 && r.at > down + STALE_MS + SLACK_MS && (r.at < up || r.at >= revokedAt!),
    );
    expect(servedAfter).toEqual([]);
    // Known keys serve normally again, on the same gateway process.
    for (const k of known) {
      const tail = of(k).filter((r) => r.at > recovered);
      expect(tail.length).toBeGreaterThan(0);
      expect(tail.every((r) => r.status === 200)).toBe(true);
    }
    expect(stack.services.gateway!.pid).toBe(gatewayPid);

    // The key-service never needed Redis; every key it created during the outage now works at the gateway.
    expect(made.every((m) => m.status === 201)).toBe(true);
    await Promise.all(made.map((m) => waitForGateway(stack.gatewayUrl, m.key!, 30_000)));
  }, 180_000);

  it('answers within its Redis timeout while Redis hangs (SIGSTOP), and recovers after SIGCONT', async () => {
    // The projection consumer survived the outage of the previous test: it is still in its group.
    await eventually(
      () => groupMembers(steadyBrokers(), stack.env.GATEWAY_PROJECTION_GROUP),
      (n) => n > 0,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const cached = await newKey();
    // A key with a rate limit and a cap of one request in flight: its admission needs Redis.
    const capped = await newKey({ rateLimit: { requestsPerMinute: 100_000, maxConcurrentRequests: 1 } });
    await waitForGateway(stack.gatewayUrl, cached.key, 30_000);
    await waitForGateway(stack.gatewayUrl, capped.key, 30_000);
    expect((await chatOnce(stack.gatewayUrl, cached.key)).status).toBe(200);
    expect((await chatOnce(stack.gatewayUrl, capped.key)).status).toBe(200);
    redis!.freeze(true);
    const frozen = Date.now();
    let results: ChatResult[] = [];
    let stranger: ChatResult;
    let limited: ChatResult;
    try {
      await sleep(CACHE_TTL_MS + 100); // past the fresh-cache window: every lookup now waits on the hung Redis
      // Authenticated from the stale cache, then refused: its admission is not answered within the timeout.
      limited = await chatOnce(stack.gatewayUrl, capped.key);
      for (let i = 0; i < 10; i++) results.push(await chatOnce(stack.gatewayUrl, cached.key));
      // A well-formed key nobody issued: nothing cached, so it must wait for Redis, which does not answer.
      stranger = await chatOnce(
        stack.gatewayUrl,
        'kg_live_00000000000000000000000000000000000000000000iucAc',
      );
    } finally {
      redis!.freeze(false);
    }
    // The lookup, the admission and the settlement each wait at most the Redis timeout (250 ms, once extended).
    expect(limited).toMatchObject({ status: 503, code: 'rate_limiter_unavailable' });
    expect(limited.ms).toBeLessThan(2_000);
    // Served stale (well within the stale window), each within the Redis timeout plus the upstream call.
    results = results.filter((r) => r.at < frozen + STALE_MS - SLACK_MS);
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.ms).toBeLessThan(1_500);
    }
    expect(stranger).toMatchObject({ status: 503, code: 'auth_unavailable' });
    expect(stranger.ms).toBeLessThan(1_500);
    // Redis ran that admission when it woke (a lease taken), then its settlement, sent once the admission had
    // run: the lease is back at once, not after IN_FLIGHT_TTL_MS (5 minutes).
    await eventually(
      () => chatOnce(stack.gatewayUrl, capped.key),
      (r) => r.status === 200,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    const fresh = await newKey();
    await waitForGateway(stack.gatewayUrl, fresh.key, 30_000);
    await eventually(
      () => chatOnce(stack.gatewayUrl, cached.key),
      (r) => r.status === 200,
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  }, 60_000);

  it('never serves a budget-only key unchecked because Redis answered its admission late', async () => {
    // Its own budget cannot pay for any request: every admission that runs refuses it.
    const broke = await newKey({ budget: { amountUsd: '0.000001', period: 'month' } });
    await waitForGateway(stack.gatewayUrl, broke.key, 30_000);
    expect(await chatOnce(stack.gatewayUrl, broke.key)).toMatchObject({
      status: 429,
      code: 'budget_exceeded',
    });
    // Fresh in the cache now: the next request's lookup does not ask Redis, its admission does, and Redis answers
    // it after 500 ms (a Redis slowed by load, not away): twice REDIS_TIMEOUT_MS, within what a budget-only key
    // waits. Served after 250 ms, as before, it would have been a 200 its budget never paid for.
    redis!.freeze(true);
    const thaw = setTimeout(() => redis!.freeze(false), 500);
    try {
      const late = await chatOnce(stack.gatewayUrl, broke.key);
      expect(late).toMatchObject({ status: 429, code: 'budget_exceeded' });
      expect(late.ms).toBeGreaterThanOrEqual(400);
    } finally {
      clearTimeout(thaw);
      redis!.freeze(false);
    }
  }, 60_000);
});
