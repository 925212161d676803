import { ROOT_CONTEXT } from '@opentelemetry/api';
import { Kafka, logLevel } from 'kafkajs';
import type { DataSource } from 'typeorm';
import type { DomainEvent, KeyCreatedData } from '@keygate/contracts';
import { EventConsumer } from '@keygate/messaging';
import { dropDatabase, ensurePostgres } from '@keygate/stack';
import { alertEnvelope } from '../../apps/usage-service/src/alerts/alert';
import { AlertService } from '../../apps/usage-service/src/alerts/alert.service';
import { BudgetMonitor } from '../../apps/usage-service/src/budgets/budget.monitor';
import { createUsageDataSource } from '../../apps/usage-service/src/database/data-source';
import type { UsageRow } from '../../apps/usage-service/src/ingest/usage-row';
import { KeyDirectoryConsumer } from '../../apps/usage-service/src/key-directory/key-directory.consumer';
import { keyEventEnvelope, runId } from './usage-service.helper';

const PG = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

// Group budgets inside usage-service, on the real PostgreSQL only: the service's migrations, its key directory fold
// (fed the events directly, as its Kafka consumer would hand them over), ledger days written as the ingest writes
// them, and the budget monitor run as the ingest runs it after a batch, with a test clock. The Kafka path around
// them (usage-budgets.int-spec.ts) is the same for keys and groups.
describe('group budgets (real PostgreSQL, test clock)', () => {
  const run = runId();
  const url = `${PG}/keygate_usage_it_group_budgets_${run}`;
  const NOW = Date.parse('2026-03-15T12:00:00Z'); // the month of March 2026
  const key = (k: string) => `key_gb${run}${k}`;
  const group = `grp_gb${run}`;
  let db: DataSource;
  let directory: KeyDirectoryConsumer;
  let alerts: AlertService;
  let budgets: BudgetMonitor;
  const positions = new Map<string, number>();

  // Key events as key-service's outbox publishes them (stream positions per aggregate), as its consumer hands them over.
  const fold = (...events: DomainEvent[]) =>
    directory.apply(
      events.map((event) => {
        const envelope = keyEventEnvelope(event, 0);
        envelope.streamPosition = (positions.get(envelope.subject) ?? 0) + 1;
        positions.set(envelope.subject, envelope.streamPosition);
        return { envelope, partition: 0, offset: '0', trace: ROOT_CONTEXT };
      }),
    );
  const created = (k: string, over: Partial<KeyCreatedData> = {}): DomainEvent => ({
    type: 'KeyCreated',
    data: {
      ...{ keyId: key(k), name: k, description: '', ownerId: 'team-gb', environment: 'live' },
      ...{ hash: `${run}${k}`.padEnd(64, '0'), last4: 'gb00', groupIds: [group], metadata: {} },
      ...{
        rotationPeriodDays: null,
        expiresAt: null,
        ipAllow: [],
        ipDeny: [],
        rateLimit: null,
        budget: null,
      },
      createdAt: new Date(NOW - 86_400_000).toISOString(),
      ...over,
    },
  });
  // What the ledger writer adds to usage_day for a key's requests of one UTC day.
  const spend = (k: string, day: string, costUsd: string) =>
    db.query(
      `INSERT INTO usage_day (key_id, day, requests, cost_usd) VALUES ($1, $2, 1, $3)
       ON CONFLICT (key_id, day) DO UPDATE SET requests = usage_day.requests + 1,
         cost_usd = usage_day.cost_usd + excluded.cost_usd`,
      [key(k), day, costUsd],
    );
  // The after-ingest step of a batch with one request of each of these keys.
  const batch = (...ks: string[]) => budgets.afterIngest(ks.map((k) => ({ keyId: key(k) }) as UsageRow));
  const groupAlerts = () =>
    db.query<
      {
        key_id: string | null;
        subject: string;
        severity: string;
        message: string;
        details: Record<string, unknown>;
      }[]
    >(
      `SELECT key_id, subject, severity, message, details FROM alerts WHERE subject = $1
       ORDER BY (details->>'budgetUsd')::numeric, (details->>'threshold')::int`,
      [`grp:${group}`],
    );
  const thresholds = async () => (await groupAlerts()).map((a) => [a.details.threshold, a.details.spentUsd]);

  beforeAll(async () => {
    await ensurePostgres([url], () => undefined);
    db = createUsageDataSource(url);
    await db.initialize();
    await db.runMigrations({ transaction: 'all' });
    // Never started: only its fold (apply) is used.
    const kafka = new Kafka({ clientId: 'usage-it', brokers: ['127.0.0.1:9'], logLevel: logLevel.NOTHING });
    directory = new KeyDirectoryConsumer(db, new EventConsumer(kafka), `usage-it-gb-${run}`, 6000);
    alerts = new AlertService(db, () => NOW);
    budgets = new BudgetMonitor(
      db,
      alerts,
      () => undefined,
      () => NOW,
    );
  }, 60_000);

  afterAll(async () => {
    await db?.destroy();
    await dropDatabase(url).catch(() => undefined);
  });

  it('alerts once at 50% and once at 80% of the spend of all the group’s keys in the period, no more', async () => {
    await db.query(
      `INSERT INTO webhooks (id, url, secret_ciphertext, types, created_by, owner_ids) VALUES
         ($1, 'http://127.0.0.1:9/all', 'x', '{budget_threshold}', 'it', NULL),
         ($2, 'http://127.0.0.1:9/team', 'x', '{budget_threshold}', 'it', '{team-gb}')`,
      [`whk_gb${run}all`, `whk_gb${run}team`],
    );
    await fold(
      {
        type: 'GroupCreated',
        data: {
          groupId: group,
          name: 'apps',
          description: '',
          routes: [],
          budget: { amountUsd: '1', period: 'month' },
        },
      },
      created('a'),
      created('b', { budget: { amountUsd: '100', period: 'month' } }), // its own budget, far away
      created('c', { groupIds: [] }),
      { type: 'KeyGroupAdded', data: { keyId: key('c'), groupId: group } },
    );
    await spend('a', '2026-02-28', '5'); // last month: not this period
    await spend('a', '2026-03-01', '0.2');
    await spend('b', '2026-03-10', '0.2');
    await batch('a', 'b');
    expect(await thresholds()).toEqual([]); // 40%

    await spend('c', '2026-03-15', '0.15');
    await batch('c');
    expect(await thresholds()).toEqual([[50, '0.55']]);

    await spend('c', '2026-03-15', '0.3');
    await batch('a', 'b', 'c');
    expect(await groupAlerts()).toEqual([
      expect.objectContaining({ severity: 'info' }),
      {
        key_id: null,
        subject: `grp:${group}`,
        severity: 'warning',
        message: `group apps (${group}) reached 80% of its monthly budget: 0.85 of 1 USD (85%)`,
        details: {
          threshold: 80,
          groupId: group,
          groupName: 'apps',
          spentUsd: '0.85',
          budgetUsd: '1',
          period: 'month',
          periodStart: '2026-03-01T00:00:00.000Z',
          periodEnd: '2026-04-01T00:00:00.000Z',
        },
      },
    ]);

    // Another batch of the group's keys (or the same one redelivered): nothing new.
    await batch('c');
    await batch('a', 'b', 'c');
    expect(await thresholds()).toEqual([
      [50, '0.55'],
      [80, '0.85'],
    ]);

    // Raised like every other alert: listed, published with the group as its message key, delivered to webhooks
    // that take every owner's alerts (one limited to owners has no key to match, as for network alerts).
    const listed = await alerts.list({ type: 'budget_threshold', limit: 10 });
    const ours = listed.data.filter((a) => a.subject === `grp:${group}`);
    expect(ours.map((a) => [a.keyId, a.details.threshold]).sort()).toEqual([
      [null, 50],
      [null, 80],
    ]);
    expect(alertEnvelope(ours[0])).toMatchObject({ subject: `grp:${group}`, data: { keyId: null } });
    expect(
      await db.query(
        `SELECT w.url, count(*)::int AS n FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE w.id LIKE $1 GROUP BY 1`,
        [`whk_gb${run}%`],
      ),
    ).toEqual([{ url: 'http://127.0.0.1:9/all', n: 2 }]);
  });

  it('stops counting a key that left the group, and never suspends the group’s keys at 100%', async () => {
    await fold({ type: 'KeyGroupRemoved', data: { keyId: key('a'), groupId: group } });
    // 0.2 (b) + 0.45 (c) + 0.3 = 0.95 without a; with a's 0.2 it would be 1.15.
    await spend('b', '2026-03-15', '0.3');
    await batch('b');
    expect((await thresholds()).map(([t]) => t)).toEqual([50, 80]);

    await spend('c', '2026-03-15', '0.05');
    await batch('c');
    const [, , full] = await groupAlerts();
    expect(full).toMatchObject({
      key_id: null,
      severity: 'critical',
      details: { threshold: 100, spentUsd: '1' },
    });
    // The same batches checked the keys' own budgets (b's is far away): no key alert, nothing enforced.
    expect(await db.query(`SELECT key_id FROM budget_enforcements WHERE key_id LIKE $1`, [key('%')])).toEqual(
      [],
    );
    expect(await db.query(`SELECT 1 FROM alerts WHERE key_id LIKE $1`, [key('%')])).toEqual([]);
  });

  it('alerts again for a new budget amount, and not for a group whose budget was removed or that was deleted', async () => {
    await fold({
      type: 'GroupUpdated',
      data: { groupId: group, budget: { amountUsd: '1.5', period: 'month' } },
    });
    await batch('b');
    // 1 of 1.5: 50% of the new amount (its own dedupe key); 80 and 100 not reached.
    expect((await groupAlerts()).slice(3).map((a) => [a.details.threshold, a.details.budgetUsd])).toEqual([
      [50, '1.5'],
    ]);

    await fold({ type: 'GroupUpdated', data: { groupId: group, budget: null } });
    await spend('b', '2026-03-15', '10');
    await batch('b', 'c');
    expect(await groupAlerts()).toHaveLength(4);

    const other = `grp_gb${run}x`;
    await fold(
      {
        type: 'GroupCreated',
        data: {
          groupId: other,
          name: 'gone',
          description: '',
          routes: [],
          budget: { amountUsd: '1', period: 'day' },
        },
      },
      { type: 'KeyGroupAdded', data: { keyId: key('b'), groupId: other } },
      { type: 'GroupDeleted', data: { groupId: other } },
    );
    await batch('b');
    expect(await db.query(`SELECT 1 FROM alerts WHERE subject = $1`, [`grp:${other}`])).toEqual([]);
  });
});
