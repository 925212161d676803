import { Kafka, logLevel } from 'kafkajs';
import { makeEnvelope, Topics } from '@keygate/contracts';
import {
  eventuallyRows,
  KAFKA_BROKERS,
  runId,
  UsageHarness,
  usage,
  usageEnvelope,
} from './usage-service.helper';

const DAY = 86_400_000;

// Bad input on usage.requests never stops the stream: each malformed message becomes one dead_letters row with
// its reason, the valid ones around it are counted, and a replay from an earlier offset changes nothing.
describe('usage ingestion: dead letters, replay, retention (real Kafka + PostgreSQL)', () => {
  let h: UsageHarness;
  const run = runId();
  const keyId = `key_err${run}`;

  beforeAll(async () => {
    h = await UsageHarness.create('ingest-error', { USAGE_RETENTION_DAYS: '30' });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('dead-letters each malformed message with its reason and ingests the valid ones around them', async () => {
    const admin = new Kafka({
      clientId: 'usage-it',
      brokers: KAFKA_BROKERS,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    const before = await admin.fetchTopicOffsets(Topics.usageRequests);
    await admin.disconnect();
    const now = Date.now();
    const first = usage({ keyId, promptTokens: 100, completionTokens: 50 });
    const last = usage({ keyId, promptTokens: 1, completionTokens: 2 });
    const bad = (over: Record<string, unknown>) => usageEnvelope({ ...usage({ keyId }), ...over } as never);
    await h.produce(Topics.usageRequests, [
      { key: keyId, envelope: usageEnvelope(first) },
      { key: keyId, envelope: 'not json {' },
      { key: keyId, envelope: JSON.stringify({ hello: 'world' }) },
      {
        key: keyId,
        envelope: makeEnvelope({ type: 'SomethingElse', data: {}, source: 'gateway', subject: keyId }),
      },
      { key: keyId, envelope: bad({ status: 'teapot', promptTokens: -1 }) },
      { key: keyId, envelope: bad({ completionTokens: 3_000_000_000 }) },
      { key: keyId, envelope: bad({ time: new Date(now - 40 * DAY).toISOString() }) },
      { key: keyId, envelope: bad({ time: new Date(now + 3 * DAY).toISOString() }) },
      { key: keyId, envelope: usageEnvelope(last) },
    ]);
    let p = await h.start();
    const reasons = (
      await eventuallyRows(
        () => h.query<{ reason: string }>(`SELECT reason FROM dead_letters ORDER BY "offset"::bigint`),
        (r) => r.length === 7,
        30_000,
        '7 dead letters',
      )
    ).map((r) => r.reason);
    expect(reasons).toEqual([
      'not JSON',
      'not an event envelope',
      'unexpected event type SomethingElse',
      'invalid RequestCompleted: status, promptTokens',
      'invalid RequestCompleted: completionTokens larger than the ledger stores',
      'older than the raw-row retention window (USAGE_RETENTION_DAYS): its dedupe row may be gone',
      'time is more than a day in the future',
    ]);
    const api = h.api(p);
    const totals = async () =>
      (
        await api<{ data: { requests: number; promptTokens: number; completionTokens: number }[] }>(
          'GET',
          `/v1/usage/keys/${keyId}?granularity=day`,
        )
      ).body.data;
    expect(await eventuallyRows(totals, (d) => d[0]?.requests === 2)).toEqual([
      expect.objectContaining({ requests: 2, promptTokens: 101, completionTokens: 52 }),
    ]);

    // Replay everything from before the first message: nothing is counted or dead-lettered twice.
    await p.kill();
    const group = new Kafka({
      clientId: 'usage-it',
      brokers: KAFKA_BROKERS,
      logLevel: logLevel.NOTHING,
    }).admin();
    await group.connect();
    await group.setOffsets({
      groupId: h.groupId,
      topic: Topics.usageRequests,
      partitions: before.map((o) => ({ partition: o.partition, offset: o.high })),
    });
    await group.disconnect();
    p = await h.start();
    await h.produceUsage([usage({ keyId, promptTokens: 1000, completionTokens: 0 })]); // a marker after the replay
    const after = await eventuallyRows(
      () =>
        h
          .api(p)<{ data: { requests: number; promptTokens: number }[] }>(
            'GET',
            `/v1/usage/keys/${keyId}?granularity=day`,
          )
          .then((r) => r.body.data),
      (d) => d[0]?.requests === 3,
    );
    expect(after[0]).toMatchObject({ requests: 3, promptTokens: 1101 });
    expect(await h.query(`SELECT count(*)::int AS n FROM dead_letters`)).toEqual([{ n: 7 }]);
    expect(await h.query(`SELECT count(*)::int AS n FROM usage_requests WHERE key_id = $1`, [keyId])).toEqual(
      [{ n: 3 }],
    );
    await p.kill();
  }, 120_000);

  it('drops raw-row partitions older than the retention window at start, keeping the aggregates', async () => {
    const old = new Date(Date.now() - 45 * DAY);
    const day = old.toISOString().slice(0, 10);
    const name = `usage_requests_p${day.replace(/-/g, '')}`;
    const next = new Date(Date.parse(`${day}T00:00:00Z`) + DAY).toISOString().slice(0, 10);
    await h.query(
      `CREATE TABLE ${name} PARTITION OF usage_requests FOR VALUES FROM ('${day} 00:00:00+00') TO ('${next} 00:00:00+00')`,
    );
    await h.query(
      `INSERT INTO usage_requests (request_id, key_id, endpoint, status, outcome, prompt_tokens, completion_tokens,
         streamed, latency_ms, cost_usd, price_version, time)
       VALUES ('req_old${run}', $1, 'chat', 200, 'success', 5, 5, false, 1, 0.5, 'p', $2)`,
      [keyId, old],
    );
    await h.query(
      `INSERT INTO usage_minute (key_id, bucket, requests, errors, prompt_tokens, completion_tokens, cost_usd)
       VALUES ($1, date_trunc('minute', $2::timestamptz), 1, 0, 5, 5, 0.5)`,
      [keyId, old],
    );
    await h.query(`INSERT INTO usage_day (key_id, day, requests, cost_usd) VALUES ($1, $2, 1, 0.5)`, [
      keyId,
      day,
    ]);
    const p = await h.start();
    const partitions = async () =>
      (
        await h.query<{ name: string }>(
          `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           JOIN pg_class t ON t.oid = i.inhparent WHERE t.relname = 'usage_requests' ORDER BY 1`,
        )
      ).map((r) => r.name);
    const left = await eventuallyRows(partitions, (ps) => !ps.includes(name));
    const today = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    expect(left).toContain(`usage_requests_p${today}`);
    expect(
      await h.query(`SELECT count(*)::int AS n FROM usage_requests WHERE request_id = $1`, [`req_old${run}`]),
    ).toEqual([{ n: 0 }]);
    const byDay = await h.api(p)<{ data: { start: string; requests: number; costUsd: string }[] }>(
      'GET',
      `/v1/usage/keys/${keyId}?granularity=day&from=${new Date(Date.now() - 60 * DAY).toISOString()}`,
    );
    expect(byDay.body.data[0]).toMatchObject({ start: `${day}T00:00:00.000Z`, requests: 1, costUsd: '0.5' });
    expect(
      await h.query(`SELECT requests::int FROM usage_day WHERE key_id = $1 AND day = $2`, [keyId, day]),
    ).toEqual([{ requests: 1 }]);
  }, 90_000);
});
