import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { Topics, TopicSpecs } from '@keygate/contracts';
import { ensureTopics } from '@keygate/stack';
import {
  eventually,
  type MockProvider,
  type PrivateRedis,
  privateRedis,
  ROOT,
  startMockProvider,
  waitForGateway,
} from '@keygate/testing';
import { buildFaultStack, type FaultStack, type ServiceName } from './support/fault-stack';
import { ledgerOf } from './support/consistency';
import { expectLedgerExact } from './support/delivery';
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
} from './support/load';
import { startPrivateKafka, type PrivateKafka } from './support/private-infra';

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
const OUTAGE_MS = 60_000;
const LANES = 16;
const BUFFER_MAX = 1_000;

// Issue 12, parts 2 and 7, against a private broker this file stops and starts. keys.events must keep every event:
// a service that folds it will not start on a finite retention. And a gateway serving at its full rate through a
// 60 s broker stop (six times what its memory buffer holds at this machine's rate) loses no usage event: what does
// not fit in memory goes to its journal and reaches the ledger once the broker is back, each event exactly once.
describe('Kafka stopped for 60 s at full rate; keys.events retention', () => {
  let mock: MockProvider | undefined;
  let kafka: PrivateKafka | undefined;
  let redis: PrivateRedis | undefined;
  let stack: FaultStack;
  let groupId: string | undefined;

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0, maxRecorded: 0 });
    [kafka, redis] = await Promise.all([startPrivateKafka(), privateRedis()]);
    stack = await buildFaultStack({
      kafkaBrokers: kafka.brokers,
      redisUrl: redis.url,
      postgresServer: SHARED_PG,
      mockUrl: mock.url,
      // Memory for 1,000 events: at this machine's rate the outage outgrows it many times over, as a 10,000-event
      // buffer is outgrown in 5 s at 2,000 req/s. Everything beyond goes to the journal.
      env: { LOG_LEVEL: 'warn', USAGE_BUFFER_MAX: String(BUFFER_MAX) },
    });
  }, 180_000);

  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await kafka?.destroy().catch(() => undefined);
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 60_000);

  const retention = async (): Promise<Record<string, string>> => {
    const admin = new Kafka({
      clientId: 'keygate-faults',
      brokers: kafka!.brokers,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      const { resources } = await admin.describeConfigs({
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: Topics.keysEvents,
            configNames: ['retention.ms', 'retention.bytes'],
          },
        ],
        includeSynonyms: false,
      });
      return Object.fromEntries(resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    } finally {
      await admin.disconnect();
    }
  };

  const setWeekRetention = async (): Promise<void> => {
    const admin = new Kafka({
      clientId: 'keygate-faults',
      brokers: kafka!.brokers,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    try {
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: Topics.keysEvents,
            configEntries: [{ name: 'retention.ms', value: '604800000' }],
          },
        ],
      });
    } finally {
      await admin.disconnect();
    }
  };

  // Starts the built service with the stack's environment and waits for it to exit (it must, at start-up): its output.
  const refusal = async (app: ServiceName): Promise<string> => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', app, 'src', 'main.js')], {
      cwd: ROOT,
      env: { ...process.env, ...stack.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    clearTimeout(timer);
    expect({ app, code }).toEqual({ app, code: 1 });
    return output;
  };

  it('keeps keys.events forever: the services refuse a finite retention by name, the topic set-up corrects it', async () => {
    expect(await retention()).toEqual({ 'retention.ms': '-1', 'retention.bytes': '-1' });
    await setWeekRetention();
    expect(await retention()).toEqual({ 'retention.ms': '604800000', 'retention.bytes': '-1' });

    const message = `Kafka topic ${Topics.keysEvents} has retention.ms=604800000; keygate needs retention.ms=-1`;
    expect(await refusal('gateway')).toContain(`gateway failed to start: ${message}`);
    expect(await refusal('usage-service')).toContain(`usage-service failed to start: ${message}`);

    const lines: string[] = [];
    await ensureTopics(kafka!.brokers, TopicSpecs, (m) => lines.push(m));
    expect(lines).toContain(`kafka: corrected ${Topics.keysEvents}: retention.ms 604800000->-1`);
    expect(await retention()).toEqual({ 'retention.ms': '-1', 'retention.bytes': '-1' });
  }, 120_000);

  it('delivers every usage event to the ledger exactly once through a 60 s broker stop at full rate', async () => {
    await Promise.all([stack.start('key-service'), stack.start('gateway'), stack.start('usage-service')]);
    const group = (groupId = await createGroup(stack));
    const keys = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const r = await createKeyOnce(stack, group);
        if (r.status !== 201) throw new Error(`create failed: ${JSON.stringify(r)}`);
        return { id: r.id!, key: r.key! };
      }),
    );
    await Promise.all(keys.map((k) => waitForGateway(stack.gatewayUrl, k.key, 30_000)));

    let turn = 0;
    const traffic = loop<ChatResult>(() => chatOnce(stack.gatewayUrl, keys[turn++ % keys.length].key), {
      concurrency: LANES,
    });
    await sleep(5_000);
    log('stopping the private broker');
    await kafka!.stop();
    const down = Date.now();
    let deepest = 0;
    while (Date.now() - down < OUTAGE_MS) {
      await sleep(5_000);
      deepest = Math.max(deepest, await metric(stack.gatewayUrl, 'keygate_usage_journal_depth'));
    }
    log('starting the private broker');
    await kafka!.start();
    const up = Date.now();
    await sleep(10_000);
    const calls = await traffic.stop();

    const during = calls.filter((c) => c.at >= down && c.at < up);
    log(
      `requests: ${calls.length} (${during.length} in ${((up - down) / 1000).toFixed(0)} s without a broker, ` +
        `${Math.round(during.length / ((up - down) / 1000))}/s); deepest journal seen: ${deepest} events`,
    );
    // Served at full rate throughout: every request answered 200, none refused (the journal never filled).
    expect(countBy(calls, (c) => String(c.status))).toEqual({ '200': calls.length });
    // Several times what the memory buffer holds went unsent: the journal took the rest.
    expect(during.length).toBeGreaterThan(3 * BUFFER_MAX);
    expect(deepest).toBeGreaterThan(0);
    expect(await metric(stack.gatewayUrl, 'keygate_usage_events_journaled_total')).toBeGreaterThan(0);

    // The journal drains, and the ledger holds each request a client got an answer for, once.
    await eventually(
      () => metric(stack.gatewayUrl, 'keygate_usage_journal_depth'),
      (n) => n === 0,
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    await expectLedgerExact(stack, keys, calls, { timeoutMs: 120_000, intervalMs: 1_000, recheckAfterMs: 0 });
    expect(await metric(stack.gatewayUrl, 'keygate_usage_events_dropped_total')).toBe(0);
    expect(await metric(stack.gatewayUrl, 'keygate_usage_backlog_refusals_total')).toBe(0);
  }, 420_000);
  it('refuses new requests with 503 usage_backlog_full only once the journal is full, and bills every one it served', async () => {
    for (const app of ['key-service', 'usage-service'] as const)
      if (!stack.services[app]) await stack.start(app);
    // A gateway whose journal is tiny (1 MiB, the smallest allowed): the outage fills it within seconds.
    await stack.kill('gateway', 'SIGTERM');
    await stack.start('gateway', { USAGE_BUFFER_MAX: '50', USAGE_JOURNAL_MAX_BYTES: String(1 << 20) });
    groupId ??= await createGroup(stack);
    const created = await createKeyOnce(stack, groupId);
    const key = { id: created.id!, key: created.key! };
    await waitForGateway(stack.gatewayUrl, key.key, 30_000);

    await kafka!.stop();
    const traffic = loop<ChatResult>(() => chatOnce(stack.gatewayUrl, key.key), { concurrency: 8 });
    const full = await eventually(
      async () => traffic.results.filter((c) => c.status === 503).length,
      (n) => n >= 20,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const calls = await traffic.stop();
    const byStatus = countBy(calls, (c) => `${c.status} ${c.code ?? ''}`.trim());
    log(`with a full journal: ${JSON.stringify(byStatus)} (${full}+ refused before the stop)`);
    expect(Object.keys(byStatus).sort()).toEqual(['200', '503 usage_backlog_full']);
    const refusedAt = Math.min(...calls.filter((c) => c.status === 503).map((c) => c.at));
    // Refusals begin only after the journal took what the memory could not hold (1 MiB of events).
    expect(calls.filter((c) => c.status === 200 && c.at < refusedAt).length).toBeGreaterThan(500);
    expect(await metric(stack.gatewayUrl, 'keygate_usage_backlog_refusals_total')).toBe(
      byStatus['503 usage_backlog_full'],
    );
    // The requests in flight at the stop held room for their events (4 KiB each, about 1 KiB used): the next few
    // may still be served, each filling the journal further, until it refuses again.
    const servedAfter: string[] = [];
    let refusal: Response | undefined;
    while (!refusal && servedAfter.length < 200) {
      const res = await fetch(`${stack.gatewayUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
      if (res.status === 503) refusal = res;
      else {
        expect(res.status).toBe(200);
        servedAfter.push(res.headers.get('x-request-id')!);
        await res.arrayBuffer();
      }
    }
    log(`served after the traffic stopped, before the next refusal: ${servedAfter.length}`);
    if (!refusal) throw new Error('a gateway with a full journal and no broker kept serving');
    expect(refusal.headers.get('retry-after')).toBe('5');
    expect(((await refusal.json()) as { error: { code: string; type: string } }).error).toMatchObject({
      code: 'usage_backlog_full',
      type: 'service_unavailable',
    });

    await kafka!.start();
    await eventually(
      () => metric(stack.gatewayUrl, 'keygate_usage_journal_depth'),
      (n) => n === 0,
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    // Served again, and the ledger holds exactly the requests that were served: refused ones cost nothing.
    expect((await chatOnce(stack.gatewayUrl, key.key)).status).toBe(200);
    const served = [...calls.filter((c) => c.status === 200).map((c) => c.requestId!), ...servedAfter];
    await eventually(
      async () => (await ledgerOf(stack.usageDatabaseUrl, key.id)).requestIds.length,
      (n) => n >= served.length + 1,
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    const ledger = (await ledgerOf(stack.usageDatabaseUrl, key.id)).requestIds;
    expect(ledger).toHaveLength(served.length + 1);
    expect(served.every((id) => ledger.includes(id))).toBe(true);
    expect(await metric(stack.gatewayUrl, 'keygate_usage_events_dropped_total')).toBe(0);
  }, 420_000);
});
