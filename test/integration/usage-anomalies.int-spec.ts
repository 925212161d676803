import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { ALERT_RAISED, Topics, type AlertRaisedData, type EventEnvelope } from '@keygate/contracts';
import {
  eventuallyRows,
  KAFKA_BROKERS,
  runId,
  sha256Hex,
  UsageHarness,
  usage,
  type UsageProcess,
} from './usage-service.helper';

const DAY = 86_400_000;
const W = 2; // seconds per anomaly window in this test

interface Alert {
  id: string;
  keyId: string | null;
  subject: string;
  type: string;
  severity: string;
  message: string;
  details: Record<string, unknown>;
  raisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
}

// Each detector against the real ledger, fed synthetic RequestCompleted events: request/cost spikes against the
// key's own EWMA baseline, auth-failure bursts per key, invalid-key bursts per client network, a new network, a dormant key; alerts listed and
// acknowledged through the API, deduplicated, and published on usage.alerts.
describe('anomaly alerts (real Kafka + PostgreSQL)', () => {
  let h: UsageHarness;
  let p: UsageProcess;
  let consumer: Consumer;
  const published: { key: string; envelope: EventEnvelope<string, AlertRaisedData> }[] = [];
  const run = runId();
  const key = (k: string) => `key_an${run}${k}`;

  const alerts = async (query: string) =>
    (await h.api(p)<{ data: Alert[] }>('GET', `/v1/alerts?${query}`)).body.data;
  const alertsFor = (keyId: string, type: string, n = 1) =>
    eventuallyRows(
      () => alerts(`keyId=${keyId}&type=${type}`),
      (a) => a.length >= n,
      30_000,
      `${type} on ${keyId}`,
    );

  beforeAll(async () => {
    h = await UsageHarness.create('anomalies', {
      USAGE_RETENTION_DAYS: '60',
      ANOMALY_WINDOW_SECONDS: String(W),
      ANOMALY_WARMUP_WINDOWS: '5',
      ANOMALY_MIN_REQUESTS: '30',
      ANOMALY_MIN_COST_USD: '0.001',
      ANOMALY_AUTH_FAILURES: '10',
      ANOMALY_AUTH_WINDOW_SECONDS: '60',
      ANOMALY_DORMANT_DAYS: '30',
    });
    consumer = new Kafka({
      clientId: 'usage-it',
      brokers: KAFKA_BROKERS,
      logLevel: logLevel.NOTHING,
    }).consumer({
      groupId: `usage-it-alerts-${run}`,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: Topics.usageAlerts, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ message }) => {
        published.push({ key: message.key!.toString(), envelope: JSON.parse(message.value!.toString()) });
      },
    });
    p = await h.start();
  }, 90_000);

  afterAll(async () => {
    await consumer?.disconnect();
    await h?.close();
  }, 60_000);

  it('alerts on a request spike against the key own baseline, not on steady traffic', async () => {
    const now = Date.now();
    const current = Math.floor(now / 1000 / W);
    // 20 windows of 5 requests, then 200 in the current window; a second key stays steady.
    const history = (keyId: string) =>
      Array.from({ length: 20 * 5 }, (_, i) =>
        usage({
          keyId,
          time: new Date((current - 20 + Math.floor(i / 5)) * W * 1000 + (i % 5) * 100).toISOString(),
        }),
      );
    await h.produceUsage([
      ...history(key('spike')),
      ...history(key('steady')),
      ...Array.from({ length: 5 }, () => usage({ keyId: key('steady'), time: new Date(now).toISOString() })),
      ...Array.from({ length: 200 }, () => usage({ keyId: key('spike'), time: new Date(now).toISOString() })),
    ]);
    const [spike] = await alertsFor(key('spike'), 'request_spike');
    expect(spike).toMatchObject({ severity: 'warning', subject: key('spike'), acknowledgedAt: null });
    expect(spike.details).toMatchObject({
      metric: 'requests',
      windowSeconds: W,
      observed: 200,
      baselineMean: 5,
    });
    expect(Number(spike.details.zScore)).toBeGreaterThan(4);
    await alertsFor(key('spike'), 'cost_spike');
    await eventuallyRows(
      () => h.query(`SELECT 1 FROM usage_requests WHERE key_id = $1`, [key('steady')]),
      (r) => r.length === 105,
    );
    expect(await alerts(`keyId=${key('steady')}`)).toEqual([]);
  });

  it('alerts on auth-failure bursts per key and invalid-key bursts per client network, once per window, not below the threshold', async () => {
    const rejected = (keyId: string | null, clientIp: string, errorCode: string) =>
      usage({
        keyId,
        clientIp,
        errorCode,
        status: 401,
        outcome: 'rejected',
        route: null,
        provider: null,
        upstreamModel: null,
        promptTokens: 0,
        completionTokens: 0,
      });
    // Guessing from one network: six addresses of one /24, two unknown keys each (no address alone reaches the
    // threshold of 10), next to four of another network's, which stays below it.
    const probe = `192.0.2`;
    await h.produceUsage([
      ...Array.from({ length: 12 }, (_, i) => rejected(key('revoked'), `198.18.0.${i}`, 'key_revoked')),
      ...Array.from({ length: 12 }, (_, i) => rejected(null, `${probe}.${10 + (i % 6)}`, 'invalid_api_key')),
      ...Array.from({ length: 4 }, () => rejected(null, '203.0.113.9', 'invalid_api_key')),
      ...Array.from({ length: 5 }, () => rejected(key('quiet'), '198.18.1.1', 'key_expired')),
    ]);
    const [byKey] = await alertsFor(key('revoked'), 'auth_failure_burst');
    expect(byKey.details).toMatchObject({ failures: 12, windowSeconds: 60 });
    const byNetwork = await eventuallyRows(
      async () => (await alerts('type=invalid_key_burst')).filter((a) => a.subject === `net:${probe}.0/24`),
      (a) => a.length >= 1,
    );
    expect(byNetwork[0]).toMatchObject({
      keyId: null,
      subject: `net:${probe}.0/24`,
      details: { network: `${probe}.0/24`, failures: 12, windowSeconds: 60 },
    });
    expect((byNetwork[0].details.clientIps as string[]).length).toBe(5);
    expect(byNetwork[0].message).toContain(`network ${probe}.0/24`);
    // More failures inside the dedupe window raise nothing new.
    await h.produceUsage(
      Array.from({ length: 12 }, () => rejected(key('revoked'), '198.18.0.1', 'key_revoked')),
    );
    await eventuallyRows(
      () => h.query(`SELECT 1 FROM usage_requests WHERE key_id = $1`, [key('revoked')]),
      (r) => r.length === 24,
    );
    expect(await alerts(`keyId=${key('revoked')}`)).toHaveLength(1);
    // The revoked key's failures came from 198.18.0.0/24 too: 12 + 12 there, one alert for that network as well.
    expect((await alerts('type=invalid_key_burst')).map((a) => a.subject).sort()).toEqual([
      `net:${probe}.0/24`,
      'net:198.18.0.0/24',
    ]);
    expect(await alerts(`keyId=${key('quiet')}`)).toEqual([]);
  });

  it('alerts when a key is used from a network it was never used from (its first network is no anomaly)', async () => {
    const k = key('net');
    await h.produceUsage([
      usage({ keyId: k, clientIp: '203.0.113.5' }),
      usage({ keyId: k, clientIp: '203.0.113.99' }),
    ]);
    await eventuallyRows(
      () => h.query(`SELECT 1 FROM key_networks WHERE key_id = $1`, [k]),
      (r) => r.length === 1,
    );
    expect(await alerts(`keyId=${k}`)).toEqual([]);
    await h.produceUsage([usage({ keyId: k, clientIp: '2001:db8:77:1::5' })]);
    const [alert] = await alertsFor(k, 'new_network');
    expect(alert.details).toMatchObject({ network: '2001:db8:77::/48', clientIp: '2001:db8:77:1::5' });
  });

  it('alerts when a dormant key is used again, and when a key unused since long ago creation is first used', async () => {
    const k = key('dormant');
    await h.produceUsage([usage({ keyId: k, time: new Date(Date.now() - 40 * DAY).toISOString() })]);
    await eventuallyRows(
      () => h.query(`SELECT 1 FROM key_activity WHERE key_id = $1`, [k]),
      (r) => r.length === 1,
    );
    await h.produceUsage([usage({ keyId: k })]);
    const [alert] = await alertsFor(k, 'dormant_key_used');
    expect(alert.details).toMatchObject({ idleDays: 40 });

    const fresh = key('never');
    await h.produceKeyEvents([
      {
        event: {
          type: 'KeyCreated',
          data: {
            keyId: fresh,
            name: 'old',
            description: '',
            ownerId: 'o',
            environment: 'live',
            hash: sha256Hex(fresh),
            last4: 'abcd',
            groupIds: [],
            metadata: {},
            rotationPeriodDays: null,
            createdAt: new Date(Date.now() - 90 * DAY).toISOString(),
            expiresAt: null,
            ipAllow: [],
            ipDeny: [],
            rateLimit: null,
            budget: null,
          },
        },
        streamPosition: 1,
      },
    ]);
    await eventuallyRows(
      () => h.query(`SELECT 1 FROM key_directory WHERE key_id = $1`, [fresh]),
      (r) => r.length === 1,
    );
    await h.produceUsage([usage({ keyId: fresh })]);
    const [never] = await alertsFor(fresh, 'dormant_key_used');
    expect(never.details).toMatchObject({ idleDays: 90, lastUsedAt: null });
  });

  it('lists alerts by key, type and time, acknowledges them, and publishes each on usage.alerts', async () => {
    const [spike] = await alerts(`keyId=${key('spike')}&type=request_spike`);
    expect(
      await alerts(`keyId=${key('spike')}&since=${new Date(Date.now() + 60_000).toISOString()}`),
    ).toEqual([]);
    const acked = await h.api(p)<Alert>('POST', `/v1/alerts/${spike.id}/ack`);
    expect(acked).toMatchObject({ status: 200, body: { id: spike.id, acknowledgedBy: 'bootstrap' } });
    expect(Date.parse(acked.body.acknowledgedAt!)).toBeGreaterThan(Date.now() - 60_000);
    const again = await h.api(p)<Alert>('POST', `/v1/alerts/${spike.id}/ack`);
    expect(again.body.acknowledgedAt).toBe(acked.body.acknowledgedAt);
    expect((await h.api(p)('POST', '/v1/alerts/alr_0000000000000000000000/ack')).status).toBe(404);

    const page1 = await h.api(p)<{ data: Alert[]; nextCursor: string | null }>('GET', '/v1/alerts?limit=2');
    expect(page1.body.data).toHaveLength(2);
    const page2 = await h.api(p)<{ data: Alert[] }>(
      'GET',
      `/v1/alerts?limit=2&cursor=${page1.body.nextCursor}`,
    );
    expect(page2.body.data[0].id < page1.body.data[1].id).toBe(true);

    const all = await alerts('limit=500');
    const onKafka = await eventuallyRows(
      async () => published.filter((m) => all.some((a) => a.id === m.envelope.data.alertId)),
      (m) => m.length === all.length,
    );
    const spikeEvent = onKafka.find((m) => m.envelope.data.alertId === spike.id)!;
    expect(spikeEvent).toMatchObject({
      key: key('spike'),
      envelope: {
        type: ALERT_RAISED,
        source: 'usage-service',
        subject: key('spike'),
        data: { type: 'request_spike', keyId: key('spike') },
      },
    });
  });
});
