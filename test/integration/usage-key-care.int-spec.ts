import { DataSource } from 'typeorm';
import type { DomainEvent, KeyCreatedData } from '@keygate/contracts';
import { AlertService } from '../../apps/usage-service/src/alerts/alert.service';
import { KeyServiceClient } from '../../apps/usage-service/src/budgets/key-service.client';
import { DormancySweep } from '../../apps/usage-service/src/key-care/dormancy.sweep';
import { RotationSweep } from '../../apps/usage-service/src/key-care/rotation.sweep';
import { fakeKeyService } from './fake-key-service';
import { eventuallyRows, runId, sha256Hex, UsageHarness, type UsageProcess } from './usage-service.helper';

const DAY = 86_400_000;

// Keys that look after themselves, inside usage-service: the sweeps run in this process on the service's own
// database (migrated and fed from keys.events / usage.requests by a real usage-service), with a clock the test
// sets days ahead, and call a gRPC server speaking key-service's proto.
describe('key care (real Kafka + PostgreSQL, test clock)', () => {
  let h: UsageHarness;
  let p: UsageProcess;
  let db: DataSource;
  let ks: Awaited<ReturnType<typeof fakeKeyService>>;
  let keys: KeyServiceClient;
  const run = runId();
  const T0 = Date.now();
  const id = (k: string) => `key_kc${run}${k}`;
  const keyEvent = (k: string, position: number, event: DomainEvent) => ({ event, streamPosition: position });
  const createdAgo = (k: string, days: number, over: Partial<KeyCreatedData> = {}) =>
    keyEvent(k, 1, {
      type: 'KeyCreated',
      data: {
        ...{ keyId: id(k), name: k, description: '', ownerId: `owner-${k}`, environment: 'live' },
        ...{ hash: sha256Hex(`${run}${k}`), last4: 'kc00', groupIds: [], metadata: {} },
        ...{ expiresAt: null, ipAllow: [], ipDeny: [], rateLimit: null, budget: null },
        rotationPeriodDays: null,
        createdAt: new Date(T0 - days * DAY).toISOString(),
        ...over,
      },
    });
  const inDirectory = (k: string, v: number) =>
    eventuallyRows(
      () => h.query(`SELECT 1 FROM key_directory WHERE key_id = $1 AND v = $2`, [id(k), v]),
      (r) => r.length === 1,
    );
  const alertsOf = (type: string) =>
    h.query<{ key_id: string; details: Record<string, unknown>; raised_at: Date }>(
      `SELECT key_id, details, raised_at FROM alerts WHERE type = $1 AND key_id LIKE $2 ORDER BY key_id, raised_at`,
      [type, `key_kc${run}%`],
    );

  beforeAll(async () => {
    ks = await fakeKeyService();
    h = await UsageHarness.create('key-care');
    p = await h.start();
    db = new DataSource({ type: 'postgres', url: h.databaseUrl, extra: { max: 2 } });
    await db.initialize();
    keys = new KeyServiceClient(ks.url, h.adminToken, 5000);
  }, 90_000);

  afterAll(async () => {
    keys?.close();
    ks?.close();
    await db?.destroy();
    await h?.close();
  }, 60_000);

  it('suspends a key unused beyond its policy (never-used keys count from creation) and alerts once', async () => {
    await h.produceKeyEvents([
      createdAgo('never', 40), // default policy 30 days, never used: dormant
      createdAgo('busy', 40), // used just now: not dormant
      createdAgo('exempt', 400, { dormantAfterDays: 0 }), // its own policy: never
      createdAgo('patient', 40, { dormantAfterDays: 60 }), // its own policy: 60 days
      createdAgo('woken', 40),
      keyEvent('woken', 2, {
        type: 'KeySuspended',
        data: {
          keyId: id('woken'),
          reason: 'dormant: earlier',
          suspendedAt: new Date(T0 - 5 * DAY).toISOString(),
        },
      }),
      keyEvent('woken', 3, {
        type: 'KeyReactivated',
        data: { keyId: id('woken'), reactivatedAt: new Date(T0 - DAY).toISOString() },
      }),
    ]);
    await Promise.all([
      inDirectory('never', 1),
      inDirectory('busy', 1),
      inDirectory('exempt', 1),
      inDirectory('patient', 1),
      inDirectory('woken', 3),
    ]);
    // Its last use as the ledger records it (the ingest path into key_activity is the access monitor's, tested
    // there; on a broker shared with other runs, one request can sit behind a long backlog).
    await h.query(`INSERT INTO key_activity (key_id, first_used_at, last_used_at) VALUES ($1, $2, $2)`, [
      id('busy'),
      new Date(T0),
    ]);
    const webhook = await h.api(p)<{ id: string }>('POST', '/v1/webhooks', {
      url: 'http://127.0.0.1:9/hook',
      secret: 'key-care-secret-0123',
      types: ['key_dormant_suspended'],
    });
    expect(webhook.status).toBe(201);

    const sweepAt = (days: number) => {
      const clock = () => T0 + days * DAY;
      return new DormancySweep(db, new AlertService(db, clock), keys, 30, clock).runOnce();
    };
    const suspendedIds = () =>
      ks.calls
        .filter((c) => c.method === 'SuspendKey' && c.keyId.startsWith(`key_kc${run}`))
        .map((c) => c.keyId.slice(`key_kc${run}`.length))
        .sort();

    await sweepAt(0);
    expect(suspendedIds()).toEqual(['never']);
    const call = ks.calls.find((c) => c.keyId === id('never'))!;
    expect(call.reason).toMatch(/^dormant: unused for 30 days \(since /);
    expect(call.authorization).toBe(`Bearer ${h.adminToken}`);

    // A month on: busy and woken are now idle 30+ days; patient passed its own 60; exempt never goes.
    await sweepAt(31);
    expect(suspendedIds()).toEqual(['busy', 'never', 'never', 'patient', 'woken']);

    // One alert per key and stretch of disuse, however often the sweep finds it, each with a webhook delivery.
    const alerts = await alertsOf('key_dormant_suspended');
    expect(alerts.map((a) => a.key_id)).toEqual([id('busy'), id('never'), id('patient'), id('woken')]);
    expect(alerts.find((a) => a.key_id === id('never'))!.details).toMatchObject({
      ownerId: 'owner-never',
      dormantAfterDays: 30,
      lastUsedAt: null,
      unusedSince: new Date(T0 - 40 * DAY).toISOString(),
    });
    expect(alerts.find((a) => a.key_id === id('patient'))!.details).toMatchObject({ dormantAfterDays: 60 });
    const deliveries = await h.query(
      `SELECT a.key_id FROM webhook_deliveries w JOIN alerts a ON a.id = w.alert_id WHERE w.webhook_id = $1`,
      [webhook.body.id],
    );
    expect(deliveries).toHaveLength(4);
  });

  it('raises rotation_due N days before a rotation period ends and rotation_overdue on the day, to owners’ webhooks', async () => {
    // Period 30 days, reminders 7 days ahead: created today (rot), and one rotated 20 days into an older key's life.
    await h.produceKeyEvents([
      createdAgo('rot', 0, { rotationPeriodDays: 30, ownerId: 'team-rot' }),
      createdAgo('other', 0, { rotationPeriodDays: 30, ownerId: 'team-other' }),
      createdAgo('rotated', 20, { rotationPeriodDays: 30, ownerId: 'team-rot' }),
      keyEvent('rotated', 2, {
        type: 'KeyRotated',
        data: {
          keyId: id('rotated'),
          hash: sha256Hex(`${run}rotated2`),
          last4: 'kc01',
          previousHash: sha256Hex(`${run}rotated`),
          previousValidUntil: new Date(T0).toISOString(),
          rotatedAt: new Date(T0).toISOString(),
        },
      }),
      createdAgo('none', 400, { ownerId: 'team-rot' }), // no rotation period: never reminded
    ]);
    await Promise.all([
      inDirectory('rot', 1),
      inDirectory('other', 1),
      inDirectory('rotated', 2),
      inDirectory('none', 1),
    ]);
    const hook = (ownerIds?: string[]) =>
      h.api(p)<{ id: string; ownerIds: string[] | null }>('POST', '/v1/webhooks', {
        url: 'http://127.0.0.1:9/rotation',
        secret: 'rotation-secret-0123',
        types: ['rotation_due', 'rotation_overdue'],
        ...(ownerIds ? { ownerIds } : {}),
      });
    const ownersHook = await hook(['team-rot']);
    expect(ownersHook.status).toBe(201);
    expect(ownersHook.body.ownerIds).toEqual(['team-rot']);
    const adminsHook = await hook();

    const seen: string[][] = [];
    for (const day of [0, 22, 23.5, 25, 29.9, 30.1, 31, 45]) {
      const clock = () => T0 + day * DAY;
      await new RotationSweep(db, new AlertService(db, clock), 7, clock).runOnce();
      const raised = [...(await alertsOf('rotation_due')), ...(await alertsOf('rotation_overdue'))];
      seen.push(
        raised.map((a) => `${a.key_id.slice(`key_kc${run}`.length)}:${String(a.details.rotationDueAt)}`),
      );
    }
    const due = new Date(T0 + 30 * DAY).toISOString();
    const dueAfterRotation = new Date(T0 + 30 * DAY).toISOString();
    // Nothing before day 23; rotation_due from day 23 (7 days ahead); overdue once day 30 has passed; once each.
    expect(seen.map((s) => s.length)).toEqual([0, 0, 3, 3, 3, 6, 6, 6]);
    const overdue = await alertsOf('rotation_overdue');
    expect(overdue.map((a) => a.key_id)).toEqual([id('other'), id('rot'), id('rotated')]);
    expect(overdue.every((a) => a.raised_at.getTime() >= T0 + 30 * DAY)).toBe(true);
    const soon = await alertsOf('rotation_due');
    expect(soon.find((a) => a.key_id === id('rot'))!.details).toEqual({
      ownerId: 'team-rot',
      rotationPeriodDays: 30,
      rotationDueAt: due,
      daysLeft: 7,
    });
    expect(soon.find((a) => a.key_id === id('rotated'))!.details.rotationDueAt).toBe(dueAfterRotation);

    // The owner's webhook gets its keys' reminders only; an unfiltered one gets all of them.
    const deliveredTo = async (webhookId: string) =>
      (
        await h.query<{ key_id: string }>(
          `SELECT a.key_id FROM webhook_deliveries w JOIN alerts a ON a.id = w.alert_id WHERE w.webhook_id = $1`,
          [webhookId],
        )
      )
        .map((r) => r.key_id.slice(`key_kc${run}`.length))
        .sort();
    expect(await deliveredTo(ownersHook.body.id)).toEqual(['rot', 'rot', 'rotated', 'rotated']);
    expect(await deliveredTo(adminsHook.body.id)).toEqual([
      'other',
      'other',
      'rot',
      'rot',
      'rotated',
      'rotated',
    ]);
  });
});
