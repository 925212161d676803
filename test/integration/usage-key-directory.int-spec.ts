import { randomBytes } from 'node:crypto';
import type { DomainEvent, KeyCreatedData } from '@keygate/contracts';
import {
  eventuallyRows,
  runId,
  sha256Hex,
  UsageHarness,
  usage,
  type UsageProcess,
} from './usage-service.helper';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY).toISOString();

// usage-service's own view of keys.events: names, owners, groups, rotation data and admin tokens, folded by stream
// position; and what it is for: summaries by owner/group, hygiene reports, issued admin tokens on the usage API.
describe('key directory from keys.events (real Kafka + PostgreSQL)', () => {
  let h: UsageHarness;
  let p: UsageProcess;
  const run = runId();
  const id = (k: string) => `key_dir${run}${k}`;
  const group = `grp_dir${run}`;
  const tokens = {
    admin: `kgadm_${randomBytes(12).toString('hex')}`,
    auditor: `kgadm_${randomBytes(12).toString('hex')}`,
    revoked: `kgadm_${randomBytes(12).toString('hex')}`,
  };

  const createdAt = ago(100);
  const created = (k: string, over: Partial<KeyCreatedData> = {}): DomainEvent => ({
    type: 'KeyCreated',
    data: {
      keyId: id(k),
      name: `key ${k}`,
      description: '',
      ownerId: 'team-dir',
      environment: 'live',
      hash: sha256Hex(k + run),
      last4: 'abcd',
      groupIds: [],
      metadata: {},
      rotationPeriodDays: null,
      createdAt,
      expiresAt: null,
      ipAllow: [],
      ipDeny: [],
      rateLimit: null,
      budget: null,
      ...over,
    },
  });

  beforeAll(async () => {
    h = await UsageHarness.create('key-directory', { USAGE_RETENTION_DAYS: '90' });
    p = await h.start();
    await h.produceKeyEvents([
      {
        event: {
          type: 'GroupCreated',
          data: { groupId: group, name: 'apps', description: '', routes: ['gpt-4o-mini'] },
        },
        streamPosition: 1,
      },
      { event: { type: 'GroupUpdated', data: { groupId: group, name: 'apps-renamed' } }, streamPosition: 2 },
      { event: created('A', { rotationPeriodDays: 30, groupIds: [group] }), streamPosition: 1 },
      { event: { type: 'KeyUpdated', data: { keyId: id('A'), name: 'renamed A' } }, streamPosition: 2 },
      {
        event: {
          type: 'KeyRotated',
          data: {
            keyId: id('A'),
            hash: 'h2',
            last4: 'efgh',
            previousHash: 'h1',
            previousValidUntil: ago(10),
            rotatedAt: ago(10),
          },
        },
        streamPosition: 3,
      },
      { event: created('B', { rotationPeriodDays: 30, ownerId: 'team-b' }), streamPosition: 1 },
      { event: created('C', { groupIds: [group] }), streamPosition: 1 },
      { event: created('D', { rotationPeriodDays: 1 }), streamPosition: 1 },
      {
        event: { type: 'KeyRevoked', data: { keyId: id('D'), reason: 'leaked', revokedAt: ago(1) } },
        streamPosition: 2,
      },
      { event: created('E'), streamPosition: 1 },
      {
        event: {
          type: 'KeyRestrictionsChanged',
          data: { keyId: id('E'), budget: { amountUsd: '12.50', period: 'week' } },
        },
        streamPosition: 2,
      },
      // Redelivered and replayed events: older stream positions change nothing.
      { event: created('A', { name: 'stale replay' }), streamPosition: 1 },
      { event: { type: 'KeyUpdated', data: { keyId: id('A'), name: 'renamed A' } }, streamPosition: 2 },
      {
        event: {
          type: 'AdminTokenIssued',
          data: {
            tokenId: `adm_a${run}`,
            name: 'ops',
            role: 'admin',
            hash: sha256Hex(tokens.admin),
            last4: 'x',
          },
        },
        streamPosition: 1,
      },
      {
        event: {
          type: 'AdminTokenIssued',
          data: {
            tokenId: `adm_b${run}`,
            name: 'audit',
            role: 'auditor',
            hash: sha256Hex(tokens.auditor),
            last4: 'x',
          },
        },
        streamPosition: 1,
      },
      {
        event: {
          type: 'AdminTokenIssued',
          data: {
            tokenId: `adm_c${run}`,
            name: 'old',
            role: 'admin',
            hash: sha256Hex(tokens.revoked),
            last4: 'x',
          },
        },
        streamPosition: 1,
      },
      { event: { type: 'AdminTokenRevoked', data: { tokenId: `adm_c${run}` } }, streamPosition: 2 },
    ]);
    // C was last used 60 days ago, A today.
    await h.produceUsage([usage({ keyId: id('C'), time: ago(60) }), usage({ keyId: id('A') })]);
    // Every aggregate lives on its own partition: wait for the last event of each.
    await eventuallyRows(
      () =>
        h.query(
          `SELECT (SELECT count(*) FROM key_directory WHERE key_id LIKE $1 AND v = (CASE key_id WHEN $2 THEN 3
                     WHEN $3 THEN 2 WHEN $4 THEN 2 ELSE 1 END))::int AS keys,
                  (SELECT count(*) FROM group_directory WHERE group_id = $5 AND v = 2)::int AS groups,
                  (SELECT count(*) FROM admin_tokens WHERE token_id LIKE $6)::int AS tokens,
                  (SELECT count(*) FROM admin_tokens WHERE token_id = $7 AND revoked_at IS NOT NULL)::int AS revoked,
                  (SELECT count(*) FROM key_activity WHERE key_id LIKE $1)::int AS used`,
          [`key_dir${run}%`, id('A'), id('D'), id('E'), group, `adm_%${run}`, `adm_c${run}`],
        ),
      (r) => JSON.stringify(r) === JSON.stringify([{ keys: 5, groups: 1, tokens: 3, revoked: 1, used: 2 }]),
      30_000,
      'the directory to catch up',
    );
  }, 90_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('folds key, group and admin-token events by stream position', async () => {
    const rows = await h.query<Record<string, unknown>>(
      `SELECT key_id, v, name, owner_id, status, status_reason, group_ids, budget_amount_usd::text AS budget, budget_period,
              rotation_period_days, rotated_at IS NOT NULL AS rotated
       FROM key_directory WHERE key_id LIKE $1 ORDER BY key_id`,
      [`key_dir${run}%`],
    );
    expect(rows.map((r) => [r.key_id, r.v, r.name, r.status])).toEqual([
      [id('A'), 3, 'renamed A', 'active'],
      [id('B'), 1, 'key B', 'active'],
      [id('C'), 1, 'key C', 'active'],
      [id('D'), 2, 'key D', 'revoked'],
      [id('E'), 2, 'key E', 'active'],
    ]);
    expect(rows[0]).toMatchObject({ group_ids: [group], rotated: true, rotation_period_days: 30 });
    expect(rows[4]).toMatchObject({ budget: '12.500000000000', budget_period: 'week' });
    expect(await h.query(`SELECT name, v FROM group_directory WHERE group_id = $1`, [group])).toEqual([
      { name: 'apps-renamed', v: 2 },
    ]);
  });

  it('accepts issued admin and auditor tokens, refuses revoked ones, and lets auditors only read', async () => {
    const as = (t: string) => h.api(p, t);
    expect((await as(tokens.admin)('GET', '/v1/alerts')).status).toBe(200);
    expect((await as(tokens.auditor)('GET', '/v1/alerts')).status).toBe(200);
    expect((await as(tokens.revoked)('GET', '/v1/alerts')).status).toBe(401);
    expect((await as('kgadm_not_a_token')('GET', '/v1/alerts')).status).toBe(401);
    const hook = { url: 'http://127.0.0.1:9/hook', secret: 'a-very-long-webhook-secret' };
    const denied = await as(tokens.auditor)('POST', '/v1/webhooks', hook);
    expect(denied).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    const made = await as(tokens.admin)<{ id: string; createdBy: string }>('POST', '/v1/webhooks', hook);
    expect(made).toMatchObject({ status: 201, body: { createdBy: `adm_a${run}` } });
    expect(JSON.stringify(made.body)).not.toContain(hook.secret);
  });

  it('reports stale keys (older than their rotation period since creation or rotation) with last use', async () => {
    const stale = await h.api(p)<{
      data: { keyId: string; rotationDueAt: string; lastUsedAt: string | null }[];
    }>('GET', '/v1/keys/stale?limit=1000');
    const mine = stale.body.data.filter((k) => k.keyId.startsWith(`key_dir${run}`));
    // A was rotated 10 days ago (period 30), C and E have no period, D is revoked.
    expect(mine.map((k) => k.keyId)).toEqual([id('B')]);
    expect(mine[0]).toMatchObject({
      lastUsedAt: null,
      rotationDueAt: new Date(Date.parse(createdAt) + 30 * DAY).toISOString(),
    });
  });

  it('reports keys unused for N days, never-used keys counting from creation', async () => {
    const unused = async (days: number) =>
      (
        await h.api(p)<{ data: { keyId: string; lastUsedAt: string | null }[] }>(
          'GET',
          `/v1/keys/unused?days=${days}&limit=1000`,
        )
      ).body.data.filter((k) => k.keyId.startsWith(`key_dir${run}`));
    const fifty = await unused(50);
    expect(fifty.map((k) => k.keyId)).toEqual([id('B'), id('C'), id('E')]);
    expect(Date.parse(fifty[1].lastUsedAt!)).toBeCloseTo(Date.parse(ago(60)), -5);
    expect((await unused(70)).map((k) => k.keyId)).toEqual([id('B'), id('E')]);
    expect((await unused(120)).map((k) => k.keyId)).toEqual([]);
    expect((await h.api(p)('GET', '/v1/keys/unused')).status).toBe(400);
  });

  it('summarises usage by owner and by group with the directory names', async () => {
    const from = new Date(Date.now() - 80 * DAY).toISOString();
    const byGroup = await h.api(p)<{ data: { groupId: string | null; name?: string; requests: number }[] }>(
      'GET',
      `/v1/usage/summary?groupBy=group&from=${from}`,
    );
    expect(byGroup.body.data).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ groupId: group, name: 'apps-renamed', requests: 2 }),
      ]),
    );
    const byOwner = await h.api(p)<{ data: { ownerId: string; requests: number }[] }>(
      'GET',
      `/v1/usage/summary?groupBy=owner&from=${from}`,
    );
    expect(byOwner.body.data).toEqual(
      expect.arrayContaining([expect.objectContaining({ ownerId: 'team-dir', requests: 2 })]),
    );
  });
});
