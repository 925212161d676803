import { Kafka, logLevel } from 'kafkajs';
import { Topics } from '@keygate/contracts';
import { startMockProvider, waitForGateway, type MockProvider } from '@keygate/testing';
import { buildFaultStack, type FaultStack } from './support/fault-stack';
import { outboxDepth } from './support/consistency';
import { expectKeyEventsDelivered, expectLedgerExact } from './support/delivery';
import {
  chatOnce,
  countBy,
  createGroup,
  createKeyOnce,
  log,
  loop,
  metric,
  sleep,
  type ChatResult,
  type CreateResult,
} from './support/load';
import { startPrivateKafkaCluster, startPrivateRedis, type PrivateRedis } from './support/private-infra';

type Cluster = Awaited<ReturnType<typeof startPrivateKafkaCluster>>;
const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
const LOSS_MS = 45_000;

// Past one broker: the stack on a three-node Kafka cluster (topics replicated three times, min.insync.replicas=2).
// The node leading keys.events' first partition is killed (SIGKILL) under load and comes back 45 s later; the
// producers (the key-service's outbox relay, the gateway's usage events) keep going on the other two, and no key
// event or usage event is lost or counted twice.
describe('Kafka cluster: one broker lost', () => {
  let mock: MockProvider | undefined;
  let cluster: Cluster | undefined;
  let redis: PrivateRedis | undefined;
  let stack: FaultStack;
  let groupId: string;

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0, maxRecorded: 0 });
    [cluster, redis] = await Promise.all([startPrivateKafkaCluster(), startPrivateRedis()]);
    stack = await buildFaultStack({
      kafkaBrokers: cluster.brokers,
      redisUrl: redis.url,
      postgresServer: SHARED_PG,
      mockUrl: mock.url,
    });
    await Promise.all([stack.start('key-service'), stack.start('gateway'), stack.start('usage-service')]);
    groupId = await createGroup(stack);
  }, 240_000);

  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await cluster?.destroy().catch(() => undefined);
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 90_000);

  // The node that leads partition 0 of keys.events: killing it forces a leader election on the topic the key
  // events cross.
  const leaderOfKeyEvents = async (): Promise<number> => {
    const admin = new Kafka({
      clientId: 'fault-probe',
      brokers: cluster!.brokers,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [Topics.keysEvents] });
      const p0 = topics[0].partitions.find((p) => p.partitionId === 0)!;
      expect(p0.replicas).toHaveLength(3);
      return p0.leader;
    } finally {
      await admin.disconnect();
    }
  };

  it('keeps producing on the other two brokers; no key or usage event lost or counted twice', async () => {
    const known: { id: string; key: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await createKeyOnce(stack, groupId);
      expect(created.status).toBe(201);
      known.push({ id: created.id!, key: created.key! });
    }
    await Promise.all(known.map((k) => waitForGateway(stack.gatewayUrl, k.key, 30_000)));

    let turn = 0;
    const traffic = loop<ChatResult>(() => chatOnce(stack.gatewayUrl, known[turn++ % known.length].key), {
      concurrency: 2,
      pauseMs: 40,
    });
    const creates = loop<CreateResult>(() => createKeyOnce(stack, groupId), { pauseMs: 300 });
    await sleep(5_000);
    const victim = await leaderOfKeyEvents();
    log(`killing Kafka node ${victim} (leader of ${Topics.keysEvents}[0])`);
    await cluster!.stopNode(victim, true);
    const down = Date.now();
    // A key created with the node down is served while it is still down: the relay and the projection kept going.
    const probe = await createKeyOnce(stack, groupId);
    expect(probe.status).toBe(201);
    const probeServed = await waitForGateway(stack.gatewayUrl, probe.key!, 120_000).then(
      () => Date.now() - down,
      async () => {
        const outbox = await outboxDepth(stack.keysDatabaseUrl);
        const applied = await metric(stack.gatewayUrl, 'keygate_projection_events_total', { result: 'applied' });
        log(`probe key not served after 120 s: outbox ${outbox}, projection applied ${applied}`);
        return Infinity;
      },
    );
    let deepest = 0;
    while (Date.now() - down < LOSS_MS) {
      deepest = Math.max(deepest, await outboxDepth(stack.keysDatabaseUrl));
      await sleep(500);
    }
    await cluster!.startNode(victim);
    const up = Date.now();
    await sleep(5_000);
    const calls = await traffic.stop();
    const made = await creates.stop();

    const duringLoss = calls.filter((c) => c.at >= down && c.at < up);
    const createdDuringLoss = made.filter((c) => c.at >= down && c.at < up);
    log(
      `requests: ${calls.length} (${duringLoss.length} with node ${victim} down); creates: ${made.length} ` +
        `(${createdDuringLoss.length} with it down); deepest outbox while down: ${deepest}; a key created with ` +
        `it down served after ${(probeServed / 1000).toFixed(1)} s`,
    );
    expect(probeServed).toBeLessThan(LOSS_MS);
    expect(countBy(calls, (c) => String(c.status))).toEqual({ '200': calls.length });
    expect(countBy(made, (c) => String(c.status))).toEqual({ '201': made.length });
    expect(duringLoss.length).toBeGreaterThan(50);
    expect(createdDuringLoss.length).toBeGreaterThan(10);

    const t0 = Date.now();
    await Promise.all(made.map((c) => waitForGateway(stack.gatewayUrl, c.key!, 60_000)));
    log(`every key created is served ${((Date.now() - t0) / 1000).toFixed(1)} s after the load stopped`);
    await expectKeyEventsDelivered(stack);
    // Where usage events are, should the ledger fall short: sent by the gateway, buffered, ingested.
    const where = async () => ({
      sent: await metric(stack.gatewayUrl, 'keygate_usage_events_sent_total'),
      buffered: await metric(stack.gatewayUrl, 'keygate_usage_buffer_depth'),
      journaled: await metric(stack.gatewayUrl, 'keygate_usage_journal_depth'),
      answered: calls.length,
    });
    log(`usage events: ${JSON.stringify(await where())}`);
    await expectLedgerExact(stack, known, calls).catch(async (e: unknown) => {
      log(`usage events after the wait: ${JSON.stringify(await where())}`);
      throw e;
    });
  }, 300_000);
});
