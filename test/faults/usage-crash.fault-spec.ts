import { Topics } from '@keygate/contracts';
import {
  eventually,
  type MockProvider,
  type PrivateRedis,
  privateRedis,
  startMockProvider,
  waitForGateway,
} from '@keygate/testing';
import { ledgerOf, sql, usageApiTotals } from './support/consistency';
import { buildFaultStack, startGroupsAtEnd, steadyBrokers, type FaultStack } from './support/fault-stack';
import {
  chatOnce,
  createGroup,
  createKeyOnce,
  log,
  loop,
  metric,
  sleep,
  type ChatResult,
} from './support/load';

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
const KILLS = 5;

// usage-service is SIGKILLed again and again while it works through a backlog of usage events: batches written
// but not committed are redelivered to the next process, and the ledger's dedupe must make the totals exact.
describe('usage-service killed mid-batch', () => {
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
      // The broker's minimum: a killed member's partitions are handed on as soon as allowed.
      env: { USAGE_CONSUMER_SESSION_TIMEOUT_MS: '6000' },
    });
    await startGroupsAtEnd(steadyBrokers(), [
      [stack.env.GATEWAY_PROJECTION_GROUP, Topics.keysEvents],
      [stack.env.USAGE_CONSUMER_GROUP, Topics.usageRequests],
      [`${stack.env.USAGE_CONSUMER_GROUP}-key-directory`, Topics.keysEvents],
    ]);
    // usage-service is started (and killed) by the test itself.
    await Promise.all([stack.start('key-service'), stack.start('gateway')]);
    groupId = await createGroup(stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 60_000);

  it('keeps exact totals through repeated SIGKILLs during ingestion', async () => {
    const keys = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const r = await createKeyOnce(stack, groupId);
        if (r.status !== 201) throw new Error(`create failed: ${JSON.stringify(r)}`);
        return { id: r.id!, key: r.key! };
      }),
    );
    for (const k of keys) await waitForGateway(stack.gatewayUrl, k.key, 30_000);
    const ids = keys.map((k) => k.id);
    const ingestedSoFar = async () =>
      Number(
        (
          await sql<{ n: string }>(
            stack.usageDatabaseUrl,
            'SELECT count(*) AS n FROM usage_requests WHERE key_id = ANY($1)',
            [ids],
          )
        )[0].n,
      );

    let turn = 0;
    const traffic = loop<ChatResult>(() => chatOnce(stack.gatewayUrl, keys[turn++ % keys.length].key), {
      concurrency: 4,
    });
    let duplicatesSeen = 0;
    const killedWith: string[] = [];
    try {
      for (let i = 0; i < KILLS; i++) {
        // Let a backlog build while it is down, then kill it while it works through it.
        await sleep(1_500);
        await stack.start('usage-service');
        const before = await ingestedSoFar();
        await eventually(ingestedSoFar, (n) => n > before, { timeoutMs: 30_000, intervalMs: 50 });
        await sleep(100 + Math.floor(Math.random() * 400));
        duplicatesSeen += await metric(stack.usageServiceUrl, 'keygate_usage_ingested_total', {
          result: 'duplicate',
        }).catch(() => 0);
        const atKill = await ingestedSoFar();
        await stack.kill('usage-service', 'SIGKILL');
        killedWith.push(`${atKill}/${traffic.results.length}`);
      }
      await sleep(1_000);
    } finally {
      await traffic.stop();
    }
    const calls = traffic.results;
    await stack.start('usage-service');
    log(`kills at ingested/sent: ${killedWith.join(', ')}; requests ${calls.length}`);
    log(`rows redelivered after a kill and recognised as duplicates: ${duplicatesSeen}`);

    expect(calls.every((c) => c.status === 200)).toBe(true);
    // Every kill left work behind: it landed while this test's events were still being ingested.
    for (const k of killedWith) {
      const [ingested, sent] = k.split('/').map(Number);
      expect(ingested).toBeLessThan(sent);
    }
    await eventually(ingestedSoFar, (n) => n >= calls.length, { timeoutMs: 120_000, intervalMs: 500 });
    for (const k of keys) {
      const mine = calls.filter((c) => c.key === k.key);
      const ledger = await ledgerOf(stack.usageDatabaseUrl, k.id);
      expect(ledger.requestIds).toEqual(mine.map((c) => c.requestId!).sort());
      expect(await usageApiTotals(stack.usageServiceUrl, stack.adminToken, k.id)).toEqual({
        requests: mine.length,
        errors: 0,
        promptTokens: mine.reduce((s, c) => s + c.promptTokens, 0),
        completionTokens: mine.reduce((s, c) => s + c.completionTokens, 0),
      });
    }
    // The aggregates are exactly the raw rows: a redelivered batch added nothing to either.
    const [agg] = await sql<{ minute: string; day: string; raw: string; same_cost: boolean }>(
      stack.usageDatabaseUrl,
      `SELECT (SELECT sum(requests) FROM usage_minute WHERE key_id = ANY($1)) AS minute,
              (SELECT sum(requests) FROM usage_day WHERE key_id = ANY($1)) AS day,
              (SELECT count(*) FROM usage_requests WHERE key_id = ANY($1)) AS raw,
              (SELECT sum(cost_usd) FROM usage_requests WHERE key_id = ANY($1)) =
                (SELECT sum(cost_usd) FROM usage_day WHERE key_id = ANY($1)) AS same_cost`,
      [ids],
    );
    expect({ ...agg, minute: Number(agg.minute), day: Number(agg.day), raw: Number(agg.raw) }).toEqual({
      minute: calls.length,
      day: calls.length,
      raw: calls.length,
      same_cost: true,
    });
    // Nothing of this test's traffic was set aside as unprocessable.
    const dead = await sql(stack.usageDatabaseUrl, 'SELECT reason FROM dead_letters WHERE payload ~ $1', [
      ids.join('|'),
    ]);
    expect(dead).toEqual([]);
  }, 240_000);
});
