import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Topics, TopicSpecs } from '@keygate/contracts';
import { ensureKafkaCluster, ensureTopics, stopKafkaCluster, type KafkaCluster } from '@keygate/stack';
import {
  eventually,
  type MockProvider,
  type PrivateRedis,
  privateRedis,
  STACK_DIR,
  startMockProvider,
} from '@keygate/testing';
import { buildFaultStack, type FaultStack } from './support/fault-stack';
import { outboxDepth, sql } from './support/consistency';
import { expectKeyEventsDelivered } from './support/delivery';
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

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
// A cluster of this file's own (not `npm run up -- --cluster`'s 19092…19097 under .stack/kafka-cluster), wiped at
// the start so the gateway's projection folds this run's key events only.
const CLUSTER = { stackDir: STACK_DIR, dir: join(STACK_DIR, 'kafka-cluster-faults'), basePort: 29092, log };
const KEYS = 50;
const LOSS_MS = 20_000;

const p99 = (ms: number[]): number => {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)] : NaN;
};

// Java's String.hashCode: the broker puts a group on __consumer_offsets partition abs(hash) % partitions.
const javaHash = (s: string): number => {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h & 0x7fffffff;
};

// Past one broker: keygate on a three-node KRaft cluster (topics replicated three times, min.insync.replicas=2).
// Under load, while keys are created and revoked, the node leading the most of what keygate uses is killed
// (SIGKILL) and comes back 20 s later. The producers (the key-service's outbox relay, the gateway's usage events)
// keep going on the other two nodes; afterwards every key event is in the gateway's projection and every request
// the gateway answered is in the usage ledger exactly once.
describe('Kafka cluster: one of three brokers lost under load', () => {
  let mock: MockProvider | undefined;
  let cluster: KafkaCluster | undefined;
  let redis: PrivateRedis | undefined;
  let stack: FaultStack;
  let groupId: string;

  beforeAll(async () => {
    await stopKafkaCluster(CLUSTER).catch(() => undefined);
    rmSync(CLUSTER.dir, { recursive: true, force: true });
    mock = await startMockProvider({ port: 0, maxRecorded: 0 });
    [cluster, redis] = await Promise.all([ensureKafkaCluster(CLUSTER), privateRedis()]);
    await ensureTopics(cluster.brokers, TopicSpecs, log);
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
    await cluster?.stop().catch(() => undefined);
    rmSync(CLUSTER.dir, { recursive: true, force: true });
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 90_000);

  const withAdmin = async <T>(fn: (admin: Admin) => Promise<T>): Promise<T> => {
    const admin = new Kafka({
      clientId: 'fault-probe',
      brokers: cluster!.brokers,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect();
    }
  };

  // The node that coordinates the most of this stack's consumer groups (the projection's, the ledger's, the key
  // directory's…: what stalled consumers in earlier attempts), then the one leading the most partitions of
  // keys.events and usage.requests.
  const pickVictim = (): Promise<number> =>
    withAdmin(async (admin) => {
      const groups = (await admin.listGroups()).groups
        .map((g) => g.groupId)
        .filter((g) => g.includes(stack.run));
      const { topics } = await admin.fetchTopicMetadata({
        topics: [Topics.keysEvents, Topics.usageRequests, '__consumer_offsets'],
      });
      const score = new Map<number, number>();
      const add = (node: number, n: number) => score.set(node, (score.get(node) ?? 0) + n);
      const seen: string[] = [];
      for (const t of topics) {
        if (t.name === '__consumer_offsets') {
          for (const g of groups) {
            const p = t.partitions.find((x) => x.partitionId === javaHash(g) % t.partitions.length)!;
            add(p.leader, 100);
            seen.push(`${g} coordinated by node ${p.leader}`);
          }
        } else {
          expect(t.partitions.every((p) => p.replicas.length === 3)).toBe(true);
          for (const p of t.partitions) add(p.leader, 1);
          seen.push(`${t.name} leaders [${t.partitions.map((p) => p.leader).join(',')}]`);
        }
      }
      const victim = [...score.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0][0];
      log(`${seen.join('; ')}: killing node ${victim}`);
      return victim;
    });

  // Where usage events are, should the ledger fall short: sent by the gateway, held back, in Kafka, consumed.
  const whereIsUsage = (answered: number): Promise<string> =>
    withAdmin(async (admin) => {
      const group = stack.env.USAGE_CONSUMER_GROUP;
      const end = (await admin.fetchTopicOffsets(Topics.usageRequests)).reduce(
        (s, p) => s + Number(p.high),
        0,
      );
      const [committed] = await admin.fetchOffsets({ groupId: group, topics: [Topics.usageRequests] });
      const done = committed.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
      const { groups } = await admin.describeGroups([group]);
      const rows = await sql<{ n: string }>(
        stack.usageDatabaseUrl,
        'SELECT count(*) AS n FROM usage_requests',
      );
      return JSON.stringify({
        answered,
        sent: await metric(stack.gatewayUrl, 'keygate_usage_events_sent_total'),
        buffered: await metric(stack.gatewayUrl, 'keygate_usage_buffer_depth'),
        journaled: await metric(stack.gatewayUrl, 'keygate_usage_journal_depth'),
        topicEnd: end,
        committed: done,
        group: `${groups[0]?.state} ${groups[0]?.members.length} members`,
        ledger: Number(rows[0].n),
      });
    });

  const revoke = async (id: string): Promise<number> =>
    fetch(`${stack.keyServiceUrl}/v1/keys/${id}/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'broker-loss fault test' }),
      signal: AbortSignal.timeout(10_000),
    }).then(
      (r) => r.status,
      () => 0,
    );

  it('keeps producing while a node is down; every key event projected, every answered request in the ledger once', async () => {
    // Every chat this test sends, load and checks alike: the ledger must hold exactly these.
    const chats: ChatResult[] = [];
    const chat = async (key: string): Promise<ChatResult> => {
      const r = await chatOnce(stack.gatewayUrl, key);
      chats.push(r);
      return r;
    };
    const served = (key: string, timeoutMs: number) =>
      eventually(
        () => chat(key),
        (r) => r.status === 200,
        { timeoutMs, intervalMs: 200 },
      );

    const first = await createKeyOnce(stack, groupId);
    expect(first.status).toBe(201);
    await served(first.key!, 60_000);

    // (1) Steady traffic through the gateway while 50 keys are created.
    const traffic = loop(() => chat(first.key!), { concurrency: 2, pauseMs: 40 });
    const made: CreateResult[] = [];
    await Promise.all(
      Array.from({ length: 2 }, async () => {
        while (made.length < KEYS) made.push(await createKeyOnce(stack, groupId));
      }),
    );
    expect(countBy(made, (c) => String(c.status))).toEqual({ '201': made.length });

    // (2) Key events keep flowing: creates, and revokes of 20 of the 50 (a revoke waits up to 5 s for the
    // gateways to confirm it, so the two run side by side).
    const revocable = made.slice(0, 20);
    const revoked: string[] = [];
    const revokeStatuses: number[] = [];
    const creates = loop(() => createKeyOnce(stack, groupId), { pauseMs: 300 });
    const revokes = loop(
      async () => {
        const k = revocable.shift();
        if (!k) return;
        revokeStatuses.push(await revoke(k.id!));
        revoked.push(k.id!);
      },
      { pauseMs: 1_000 },
    );
    await sleep(3_000);

    const victim = await pickVictim();
    const sentAtDown = await metric(stack.gatewayUrl, 'keygate_usage_events_sent_total');
    await cluster!.stopNode(victim, true);
    const down = Date.now();
    let deepestOutbox = 0;
    while (Date.now() - down < LOSS_MS) {
      deepestOutbox = Math.max(deepestOutbox, await outboxDepth(stack.keysDatabaseUrl));
      await sleep(500);
    }
    const sentAtUp = await metric(stack.gatewayUrl, 'keygate_usage_events_sent_total');
    const outboxAtUp = await outboxDepth(stack.keysDatabaseUrl);
    // (3) The node comes back.
    await cluster!.startNode(victim);
    const up = Date.now();
    await sleep(10_000);
    const loadChats = await traffic.stop();
    const created = [...made, ...(await creates.stop())];
    await revokes.stop();
    const loadStopped = Date.now();

    // Time until every request answered so far is in the ledger.
    const answeredSoFar = chats.filter((c) => c.requestId).length;
    const ledgerRows = async () =>
      Number(
        (await sql<{ n: string }>(stack.usageDatabaseUrl, 'SELECT count(*) AS n FROM usage_requests'))[0].n,
      );
    const caughtUp = await eventually(ledgerRows, (n) => n >= answeredSoFar, {
      timeoutMs: 120_000,
      intervalMs: 250,
    }).then(
      () => Date.now(),
      async () => {
        log(`usage events: ${await whereIsUsage(answeredSoFar)}; logs in ${stack.logDir}`);
        return Infinity;
      },
    );

    const during = loadChats.filter((c) => c.at >= down && c.at < up);
    const before = loadChats.filter((c) => c.at < down);
    const createdDuring = created.filter((c) => c.at >= down && c.at < up);
    log(
      `node ${victim} down ${((up - down) / 1000).toFixed(1)} s; requests answered: ${loadChats.length} ` +
        `(${during.filter((c) => c.status === 200).length} answered 200 while it was down); p99 latency while down ` +
        `${p99(during.map((c) => c.ms))} ms (before: ${p99(before.map((c) => c.ms))} ms); usage events sent while ` +
        `down: ${sentAtUp - sentAtDown}; key events: ${created.length} creates (${createdDuring.length} while down), ` +
        `${revoked.length} revokes; outbox deepest while down ${deepestOutbox}, at the restart ${outboxAtUp}; usage ` +
        `ingestion caught up ${((caughtUp - up) / 1000).toFixed(1)} s after the node was back ` +
        `(${((caughtUp - loadStopped) / 1000).toFixed(1)} s after the load stopped)`,
    );

    // The gateway answered every request, and the producers went on while the node was down.
    expect(countBy(loadChats, (c) => String(c.status))).toEqual({ '200': loadChats.length });
    expect(during.length).toBeGreaterThan(50);
    expect(sentAtUp - sentAtDown).toBeGreaterThan(50);
    expect(countBy(created, (c) => String(c.status))).toEqual({ '201': created.length });
    expect(countBy(revokeStatuses, String)).toEqual({ '200': revokeStatuses.length });
    expect(createdDuring.length).toBeGreaterThan(10);
    // The relay published on the two nodes left: the outbox did not pile up the creates of the outage.
    expect(outboxAtUp).toBeLessThan(createdDuring.length);

    // (4) Key state integrity: every created key authenticates, every revoked one is refused.
    const revokedSet = new Set(revoked);
    const live = created.filter((c) => !revokedSet.has(c.id!));
    for (let i = 0; i < live.length; i += 10)
      await Promise.all(live.slice(i, i + 10).map((c) => served(c.key!, 60_000)));
    const refused = created.filter((c) => revokedSet.has(c.id!));
    expect(refused).toHaveLength(revoked.length);
    await Promise.all(
      refused.map((c) =>
        eventually(
          () => chat(c.key!),
          (r) => r.status === 401 && r.code === 'key_revoked',
          {
            timeoutMs: 60_000,
            intervalMs: 200,
          },
        ),
      ),
    );
    await expectKeyEventsDelivered(stack);

    // Exactly one ledger row per request the gateway answered (x-request-id), none missing, none twice.
    const answered = chats.filter((c) => c.requestId).map((c) => c.requestId!);
    expect(answered).toHaveLength(chats.length);
    expect(new Set(answered).size).toBe(answered.length);
    await eventually(ledgerRows, (n) => n >= answered.length, { timeoutMs: 60_000, intervalMs: 500 }).catch(
      async (e: unknown) => {
        log(`usage events: ${await whereIsUsage(answered.length)}; logs in ${stack.logDir}`);
        throw e;
      },
    );
    await sleep(3_000); // a late redelivery would land now
    const rows = (
      await sql<{ request_id: string }>(stack.usageDatabaseUrl, 'SELECT request_id FROM usage_requests')
    ).map((r) => r.request_id);
    expect(rows.length).toBe(answered.length);
    expect([...rows].sort()).toEqual([...answered].sort());
    expect(caughtUp).toBeLessThan(Infinity);
  }, 290_000);
});
