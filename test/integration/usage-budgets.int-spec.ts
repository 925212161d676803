import type { DomainEvent, KeyCreatedData } from '@keygate/contracts';
import { fakeKeyService } from './fake-key-service';
import {
  eventuallyRows,
  runId,
  sha256Hex,
  sleep,
  UsageHarness,
  usage,
  type UsageProcess,
} from './usage-service.helper';

// Budgets end to end inside usage-service: spend from the ledger against the key's budget (from keys.events), 50/80/100%
// alerts once per period, SuspendKey at 100% (retried while key-service is unavailable), and ReactivateKey when the
// period rolls over or the budget is raised, never for a key an admin suspended.
describe('budgets (real Kafka + PostgreSQL, a fake key-service gRPC server)', () => {
  let h: UsageHarness;
  let p: UsageProcess;
  let ks: Awaited<ReturnType<typeof fakeKeyService>>;
  const run = runId();
  const key = (k: string) => `key_bg${run}${k}`;
  const utcDay = () => new Date().toISOString().slice(0, 10);
  // 1000 prompt + 500 completion tokens of gpt-4o-mini (0.15 / 0.60 USD per 1M) = 0.00045 USD per request.
  const spend = (keyId: string, n: number) =>
    h.produceUsage(
      Array.from({ length: n }, () => usage({ keyId, promptTokens: 1000, completionTokens: 500 })),
    );
  const created = (
    k: string,
    over: Partial<KeyCreatedData> = {},
  ): { event: DomainEvent; streamPosition: number } => ({
    event: {
      type: 'KeyCreated',
      data: {
        keyId: key(k),
        name: k,
        description: '',
        ownerId: 'team-budget',
        environment: 'live',
        hash: sha256Hex(k + run),
        last4: 'abcd',
        groupIds: [],
        metadata: {},
        rotationPeriodDays: null,
        createdAt: new Date().toISOString(),
        expiresAt: null,
        ipAllow: [],
        ipDeny: [],
        rateLimit: null,
        budget: { amountUsd: '0.001', period: 'day' },
        ...over,
      },
    },
    streamPosition: 1,
  });
  const suspended = (k: string, reason: string, pos: number) => ({
    event: {
      type: 'KeySuspended',
      data: { keyId: key(k), reason, suspendedAt: new Date().toISOString() },
    } as DomainEvent,
    streamPosition: pos,
  });
  const callsFor = (k: string) => ks.calls.filter((c) => c.keyId === key(k));
  const directory = (k: string, v: number) =>
    eventuallyRows(
      () => h.query(`SELECT 1 FROM key_directory WHERE key_id = $1 AND v = $2`, [key(k), v]),
      (r) => r.length === 1,
    );
  const enforcement = (k: string) =>
    h.query<{ status: string; reason: string }>(
      `SELECT status, reason FROM budget_enforcements WHERE key_id = $1`,
      [key(k)],
    );

  beforeAll(async () => {
    ks = await fakeKeyService();
    h = await UsageHarness.create('budgets', { KEY_SERVICE_GRPC_URL: ks.url, BUDGET_TICK_MS: '300' });
    p = await h.start();
    await h.produceKeyEvents([
      created('main'),
      created('admin'),
      suspended('admin', 'manual hold', 2),
      created('override'),
      created('raised'),
    ]);
    await Promise.all([
      directory('main', 1),
      directory('admin', 2),
      directory('override', 1),
      directory('raised', 1),
    ]);
  }, 90_000);

  afterAll(async () => {
    ks?.close();
    await h?.close();
  }, 60_000);

  it('alerts at 50, 80 and 100% once each, and suspends the key through key-service at 100%, retrying', async () => {
    const startedOn = utcDay();
    const thresholds = async () =>
      (
        await h.api(p)<{
          data: {
            severity: string;
            details: { threshold: number; spentUsd: string; budgetUsd: string; periodStart: string };
          }[];
        }>('GET', `/v1/alerts?keyId=${key('main')}&type=budget_threshold`)
      ).body.data
        .map((a) => [a.details.threshold, a.severity, a.details.spentUsd])
        .sort((x, y) => Number(x[0]) - Number(y[0]));

    await spend(key('main'), 1); // 45%
    await eventuallyRows(
      () => h.query(`SELECT 1 FROM usage_day WHERE key_id = $1`, [key('main')]),
      (r) => r.length === 1,
    );
    await sleep(500);
    expect(await thresholds()).toEqual([]);
    await spend(key('main'), 1); // 90%
    expect(await eventuallyRows(thresholds, (t) => t.length === 2)).toEqual([
      [50, 'info', '0.0009'],
      [80, 'warning', '0.0009'],
    ]);
    ks.failNext.add(key('main'));
    await spend(key('main'), 1); // 135%
    expect((await eventuallyRows(thresholds, (t) => t.length === 3))[2]).toEqual([
      100,
      'critical',
      '0.00135',
    ]);
    const calls = await eventuallyRows(
      async () => callsFor('main'),
      (c) => c.length === 2,
      15_000,
      'a retried SuspendKey',
    );
    // The period is the UTC day the service checked in: the one this test started in, or the next if it ran over
    // midnight.
    const day = [startedOn, utcDay()].find((d) => calls[0]?.reason?.includes(d)) ?? startedOn;
    const reason = `budget exceeded: 0.00135 of 0.001 USD spent in the day from ${day}T00:00:00.000Z`;
    expect(calls).toEqual([
      { method: 'SuspendKey', keyId: key('main'), reason, authorization: `Bearer ${h.adminToken}` },
      { method: 'SuspendKey', keyId: key('main'), reason, authorization: `Bearer ${h.adminToken}` },
    ]);
    expect(
      await eventuallyRows(
        () => enforcement('main'),
        (e) => e[0]?.status === 'suspended',
      ),
    ).toEqual([{ status: 'suspended', reason }]);

    // Requests already in flight when the key was suspended: counted, but no second alert or suspension this period.
    await spend(key('main'), 2);
    await eventuallyRows(
      () => h.query(`SELECT requests FROM usage_day WHERE key_id = $1`, [key('main')]),
      (r) => r[0]?.requests === '5',
    );
    await sleep(1000);
    expect(await thresholds()).toHaveLength(3);
    expect(callsFor('main')).toHaveLength(2);
  });

  it('reactivates the key it suspended when the budget period rolls over', async () => {
    const [{ reason }] = await enforcement('main');
    await h.produceKeyEvents([suspended('main', reason, 2)]); // what key-service publishes after our SuspendKey
    await directory('main', 2);
    // The period ends: pretend it ended a second ago.
    await h.query(
      `UPDATE budget_enforcements SET period_end = now() - interval '1 second', next_attempt_at = now() WHERE key_id = $1`,
      [key('main')],
    );
    await eventuallyRows(
      async () => callsFor('main').filter((c) => c.method === 'ReactivateKey'),
      (c) => c.length === 1,
    );
    expect(
      await eventuallyRows(
        () => enforcement('main'),
        (e) => e[0]?.status === 'reactivated',
      ),
    ).toHaveLength(1);
  });

  it('never suspends a key an admin already suspended, nor reactivates one an admin re-suspended', async () => {
    await spend(key('admin'), 3);
    await eventuallyRows(
      () =>
        h.query(`SELECT 1 FROM alerts WHERE key_id = $1 AND details->>'threshold' = '100'`, [key('admin')]),
      (r) => r.length === 1,
    );
    await sleep(1000);
    expect(callsFor('admin')).toEqual([]);
    expect(await enforcement('admin')).toEqual([]);

    // Suspended by us, then an admin reactivated it and suspended it again for another reason.
    await spend(key('override'), 3);
    await eventuallyRows(
      async () => callsFor('override'),
      (c) => c.length === 1,
    );
    const [{ reason }] = await eventuallyRows(
      () => enforcement('override'),
      (e) => e[0]?.status === 'suspended',
    );
    await h.produceKeyEvents([
      suspended('override', reason, 2),
      {
        event: {
          type: 'KeyReactivated',
          data: { keyId: key('override'), reactivatedAt: new Date().toISOString() },
        },
        streamPosition: 3,
      },
      suspended('override', 'under investigation', 4),
    ]);
    await directory('override', 4);
    await h.query(
      `UPDATE budget_enforcements SET period_end = now() - interval '1 second', suspended_at = now() - interval '5 minutes',
         next_attempt_at = now() WHERE key_id = $1`,
      [key('override')],
    );
    expect(
      await eventuallyRows(
        () => enforcement('override'),
        (e) => e[0]?.status === 'released',
      ),
    ).toHaveLength(1);
    expect(callsFor('override').map((c) => c.method)).toEqual(['SuspendKey']);
  });

  it('reactivates early when an admin raises the budget above the spend', async () => {
    await spend(key('raised'), 3);
    const [{ reason }] = await eventuallyRows(
      () => enforcement('raised'),
      (e) => e[0]?.status === 'suspended',
    );
    await h.produceKeyEvents([
      suspended('raised', reason, 2),
      {
        event: {
          type: 'KeyRestrictionsChanged',
          data: { keyId: key('raised'), budget: { amountUsd: '1', period: 'day' } },
        },
        streamPosition: 3,
      },
    ]);
    await directory('raised', 3);
    await eventuallyRows(
      async () => callsFor('raised').filter((c) => c.method === 'ReactivateKey'),
      (c) => c.length === 1,
    );
    expect(
      await eventuallyRows(
        () => enforcement('raised'),
        (e) => e[0]?.status === 'reactivated',
      ),
    ).toHaveLength(1);
  });
});
