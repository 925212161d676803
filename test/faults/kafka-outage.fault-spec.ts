import {
  eventually,
  type MockProvider,
  type PrivateRedis,
  privateRedis,
  startMockProvider,
  waitForGateway,
} from '@keygate/testing';
import { buildFaultStack, type FaultStack } from './support/fault-stack';
import { outboxDepth, sql } from './support/consistency';
import { expectKeyEventsDelivered, expectLedgerExact } from './support/delivery';
import {
  chatOnce,
  countBy,
  createGroup,
  createKeyOnce,
  log,
  loop,
  sleep,
  type ChatResult,
  type CreateResult,
} from './support/load';
import { startPrivateKafka, type PrivateKafka } from './support/private-infra';

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
const OUTAGE_MS = 30_000;

// The broker is the one piece every event crosses. Stopped under load, then started again: the gateway keeps
// serving the keys it knows, the key-service keeps accepting writes (the outbox holds them), and afterwards
// every key event and every usage event is where it belongs exactly once. The broker here is a private one.
describe('Kafka broker outage', () => {
  let mock: MockProvider | undefined;
  let kafka: PrivateKafka | undefined;
  let redis: PrivateRedis | undefined;
  let stack: FaultStack;
  let groupId: string;

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0, maxRecorded: 0 });
    [kafka, redis] = await Promise.all([startPrivateKafka(), privateRedis()]);
    stack = await buildFaultStack({
      kafkaBrokers: kafka.brokers,
      redisUrl: redis.url,
      postgresServer: SHARED_PG,
      mockUrl: mock.url,
    });
    await Promise.all([stack.start('key-service'), stack.start('gateway'), stack.start('usage-service')]);
    groupId = await createGroup(stack);
  }, 180_000);

  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await kafka?.destroy().catch(() => undefined);
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 60_000);

  const newKey = async (): Promise<{ id: string; key: string }> => {
    const created = await createKeyOnce(stack, groupId);
    if (created.status !== 201 || !created.id || !created.key)
      throw new Error(`create failed: ${JSON.stringify(created)}`);
    return { id: created.id, key: created.key };
  };

  it('keeps serving known keys through a 30 s broker stop under load; no key or usage event is lost or counted twice', async () => {
    const known = await Promise.all([newKey(), newKey(), newKey(), newKey()]);
    await Promise.all(known.map((k) => waitForGateway(stack.gatewayUrl, k.key, 30_000)));

    let turn = 0;
    const traffic = loop<ChatResult>(() => chatOnce(stack.gatewayUrl, known[turn++ % known.length].key), {
      concurrency: 2,
      pauseMs: 40,
    });
    const creates = loop<CreateResult>(() => createKeyOnce(stack, groupId), { pauseMs: 400 });
    await sleep(5_000);
    log('stopping the private broker');
    await kafka!.stop();
    const down = Date.now();
    await sleep(OUTAGE_MS);
    log('starting the private broker');
    await kafka!.start();
    const up = Date.now();
    log(`broker back after ${((up - down) / 1000).toFixed(1)} s`);
    await sleep(5_000);
    const calls = await traffic.stop();
    const made = await creates.stop();

    // The gateway answered every request for a known key, broker or no broker.
    const duringOutage = calls.filter((c) => c.at >= down && c.at < up);
    log(
      `requests: ${calls.length} (${duringOutage.length} while the broker was down); creates: ${made.length}`,
    );
    expect(duringOutage.length).toBeGreaterThan(100);
    expect(countBy(calls, (c) => String(c.status))).toEqual({ '200': calls.length });
    // The key-service took every write: the outbox held the events until the broker was back.
    expect(countBy(made, (c) => String(c.status))).toEqual({ '201': made.length });
    expect(made.filter((c) => c.at >= down && c.at < up).length).toBeGreaterThan(10);

    // Every key created while the broker was away reaches the gateway.
    await Promise.all(made.map((c) => waitForGateway(stack.gatewayUrl, c.key!, 60_000)));
    await expectKeyEventsDelivered(stack);

    await expectLedgerExact(stack, known, calls);
  }, 240_000);

  it('delivers events committed before a key-service SIGKILL while the broker could not take them', async () => {
    const victim = await newKey();
    await waitForGateway(stack.gatewayUrl, victim.key, 30_000);
    expect((await chatOnce(stack.gatewayUrl, victim.key)).status).toBe(200);

    await kafka!.stop();
    const created = [await newKey(), await newKey(), await newKey()];
    const revoke = await fetch(`${stack.keyServiceUrl}/v1/keys/${victim.id}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'fault suite' }),
    });
    expect(revoke.status).toBe(200);
    // Committed, not published: the rows wait in the outbox when the process dies.
    expect(await outboxDepth(stack.keysDatabaseUrl)).toBeGreaterThanOrEqual(4);
    await stack.kill('key-service', 'SIGKILL');
    await kafka!.start();
    await stack.start('key-service');

    await Promise.all(created.map((k) => waitForGateway(stack.gatewayUrl, k.key, 60_000)));
    await eventually(
      () => chatOnce(stack.gatewayUrl, victim.key),
      (r) => r.status === 401 && r.code === 'key_revoked',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await expectKeyEventsDelivered(stack);
  }, 180_000);

  it('delivers events committed right before a SIGKILL with the broker up', async () => {
    // Creates in flight; the process dies the moment the first 201 arrives. Whatever was committed by then,
    // answered or not, must reach the gateway; whatever was answered 201 must be in the store.
    const inFlight = Array.from({ length: 8 }, () => createKeyOnce(stack, groupId));
    await Promise.race([
      ...inFlight.map((p) => p.then((r) => (r.status === 201 ? undefined : new Promise(() => undefined)))),
      sleep(15_000),
    ]);
    await stack.kill('key-service', 'SIGKILL');
    const results = await Promise.all(inFlight);
    await stack.start('key-service');
    const answered = results.filter((r) => r.status === 201);
    log(`in flight at the kill: ${results.length}, answered 201: ${answered.length}`);
    expect(answered.length).toBeGreaterThanOrEqual(1);
    const stored = new Set(
      (await sql<{ id: string }>(stack.keysDatabaseUrl, 'SELECT id FROM api_keys')).map((r) => r.id),
    );
    for (const r of answered) expect(stored.has(r.id!)).toBe(true);
    await Promise.all(answered.map((r) => waitForGateway(stack.gatewayUrl, r.key!, 60_000)));
    await expectKeyEventsDelivered(stack);
  }, 120_000);
});
