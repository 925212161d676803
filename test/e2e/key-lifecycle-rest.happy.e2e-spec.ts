import { randomBytes } from 'node:crypto';
import { api, testStack } from '@keygate/testing';

// The whole key lifecycle over REST, as an administrator sees it: create → read → list → update (If-Match) →
// groups → rotate with grace → suspend/reactivate → revoke → delete, and the audit trail of all of it.
describe('key lifecycle over REST', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  const owner = `team-rest-${run}`;

  const newGroup = async (routes: string[]) => {
    const res = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `rest-${run}-${randomBytes(3).toString('hex')}`,
      routes,
    });
    expect(res.status).toBe(201);
    return res.body.id;
  };

  it('creates, reads, updates, rotates, suspends, revokes and deletes a key, and audits every step', async () => {
    const chatGroup = await newGroup(['gpt-4o-mini']);
    const embedGroup = await newGroup(['text-embedding-3-small']);
    const expiresAt = new Date(Date.now() + 30 * 86400_000).toISOString();

    const created = await admin<any>(
      'POST',
      '/v1/keys',
      {
        name: 'billing bot',
        description: 'invoices',
        ownerId: owner,
        environment: 'test',
        groupIds: [chatGroup],
        expiresAt,
        ipAllow: ['10.0.0.0/8', '2001:db8::/32'],
        ipDeny: ['10.1.2.3/32'],
        rateLimit: { tier: 'free' },
        budget: { amountUsd: '25.50', period: 'month' },
        metadata: { app: 'billing' },
        rotationPeriodDays: 90,
      },
      { 'x-request-id': `req-create-${run}` },
    );
    expect(created.status).toBe(201);
    const key = created.body;
    expect(key.key).toMatch(/^kg_test_[0-9A-Za-z]{49}$/);
    expect(key).toMatchObject({
      name: 'billing bot',
      ownerId: owner,
      environment: 'test',
      state: 'active',
      maskedKey: `kg_test_…${key.key.slice(-4)}`,
      groupIds: [chatGroup],
      accessibleRoutes: ['gpt-4o-mini'],
      expiresAt,
      ipAllow: ['10.0.0.0/8', '2001:db8::/32'],
      rateLimit: { tier: 'free' },
      budget: { amountUsd: '25.50', period: 'month' },
      metadata: { app: 'billing' },
      rotationPeriodDays: 90,
      version: 1,
    });

    const got = await admin<any>('GET', `/v1/keys/${key.id}`);
    expect(got.status).toBe(200);
    expect(got.headers.get('etag')).toBe('"1"');
    expect(got.body.key).toBeUndefined();
    expect(JSON.stringify(got.body)).not.toContain(key.key);

    const listed = await admin<any>('GET', `/v1/keys?ownerId=${owner}&state=active&groupId=${chatGroup}`);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((k: { id: string }) => k.id)).toEqual([key.id]);
    expect(JSON.stringify(listed.body)).not.toContain(key.key);

    const updated = await admin<any>(
      'PATCH',
      `/v1/keys/${key.id}`,
      { name: 'billing bot v2', ipDeny: [], budget: null },
      { 'if-match': '"1"' },
    );
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ name: 'billing bot v2', ipDeny: [], budget: null });
    expect(updated.headers.get('etag')).toBe(`"${updated.body.version}"`);
    const stale = await admin<any>(
      'PATCH',
      `/v1/keys/${key.id}`,
      { name: 'lost update' },
      { 'if-match': '"1"' },
    );
    expect(stale.status).toBe(412);
    expect(stale.body.error.code).toBe('VERSION_CONFLICT');

    const joined = await admin<any>('PUT', `/v1/keys/${key.id}/groups/${embedGroup}`);
    expect(joined.status).toBe(200);
    expect(joined.body.accessibleRoutes).toEqual(['gpt-4o-mini', 'text-embedding-3-small']);
    const left = await admin<any>('DELETE', `/v1/keys/${key.id}/groups/${chatGroup}`);
    expect(left.body.accessibleRoutes).toEqual(['text-embedding-3-small']);

    const rotated = await admin<any>('POST', `/v1/keys/${key.id}/rotate`, { gracePeriodSeconds: 60 });
    expect(rotated.status).toBe(201);
    expect(rotated.body.key).toMatch(/^kg_test_/);
    expect(rotated.body.key).not.toBe(key.key);
    expect(rotated.body.maskedKey).toBe(`kg_test_…${rotated.body.key.slice(-4)}`);
    expect(rotated.body.rotatedAt).toEqual(expect.any(String));

    const suspended = await admin<any>('POST', `/v1/keys/${key.id}/suspend`, { reason: 'budget' });
    expect(suspended.body.state).toBe('suspended');
    const reactivated = await admin<any>('POST', `/v1/keys/${key.id}/reactivate`);
    expect(reactivated.body.state).toBe('active');

    const revoked = await admin<any>('POST', `/v1/keys/${key.id}/revoke`, { reason: 'leaked' });
    expect(revoked.status).toBe(200);
    expect(revoked.body.state).toBe('revoked');
    const again = await admin<any>('POST', `/v1/keys/${key.id}/revoke`, { reason: 'twice' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('KEY_ALREADY_REVOKED');

    expect((await admin('DELETE', `/v1/keys/${key.id}`)).status).toBe(204);
    const gone = await admin<any>('GET', `/v1/keys/${key.id}`);
    expect(gone.status).toBe(404);
    expect(gone.body.error).toMatchObject({ code: 'KEY_NOT_FOUND', requestId: expect.any(String) });
    expect((await admin<any>('GET', `/v1/keys?ownerId=${owner}`)).body.data).toEqual([]);

    // The history outlives the key: every step, in order, with actor and request id, and no hash or secret.
    const audit = await admin<any>('GET', `/v1/audit?aggregateId=${key.id}`);
    expect(audit.status).toBe(200);
    expect(audit.body.data.map((e: { type: string }) => e.type)).toEqual([
      'KeyCreated',
      'KeyUpdated',
      'KeyRestrictionsChanged',
      'KeyGroupAdded',
      'KeyGroupRemoved',
      'KeyRotated',
      'KeySuspended',
      'KeyReactivated',
      'KeyRevoked',
      'KeyDeleted',
    ]);
    const [first] = audit.body.data;
    expect(first).toMatchObject({
      aggregateId: key.id,
      actor: 'bootstrap',
      requestId: `req-create-${run}`,
      streamPosition: 1,
      data: { keyId: key.id, name: 'billing bot', last4: key.key.slice(-4) },
    });
    expect(Date.parse(first.time)).not.toBeNaN();
    const rotation = audit.body.data.find((e: { type: string }) => e.type === 'KeyRotated');
    const graceMs = Date.parse(rotation.data.previousValidUntil) - Date.parse(rotation.data.rotatedAt);
    expect(graceMs).toBe(60_000);
    const text = JSON.stringify(audit.body);
    for (const hidden of ['"hash"', '"previousHash"', key.key, rotated.body.key])
      expect(text).not.toContain(hidden);
  });

  it('pages through keys with a cursor and filters by environment and search', async () => {
    const pageOwner = `${owner}-page`;
    const ids: string[] = [];
    for (const name of ['alpha', 'beta', 'gamma']) {
      const res = await admin<any>('POST', '/v1/keys', { name: `${name}-${run}`, ownerId: pageOwner });
      expect(res.status).toBe(201);
      ids.push(res.body.id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: any } = await admin<any>(
        'GET',
        `/v1/keys?ownerId=${pageOwner}&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      seen.push(...res.body.data.map((k: { id: string }) => k.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].sort());
    const search = await admin<any>('GET', `/v1/keys?search=beta-${run}`);
    expect(search.body.data.map((k: { id: string }) => k.id)).toEqual([ids[1]]);
    const none = await admin<any>('GET', `/v1/keys?ownerId=${pageOwner}&environment=test`);
    expect(none.body.data).toEqual([]);
  });

  it('lists routes, groups and serves the OpenAPI page', async () => {
    const routes = await admin<any>('GET', '/v1/routes');
    expect(routes.body.data).toEqual(
      expect.arrayContaining([
        {
          name: 'gpt-4o-mini',
          targets: [
            { provider: 'openai-main', model: 'gpt-4o-mini' },
            { provider: 'azure-eu', deployment: 'gpt-4o-mini' },
          ],
        },
      ]),
    );
    const groupId = await newGroup(['gpt-4o']);
    const group = await admin<any>('PATCH', `/v1/groups/${groupId}`, {
      routes: ['gpt-4o', 'gemini-1.5-flash'],
    });
    expect(group.body).toMatchObject({ id: groupId, routes: ['gpt-4o', 'gemini-1.5-flash'] });
    expect((await admin('DELETE', `/v1/groups/${groupId}`)).status).toBe(204);
    expect((await admin('GET', `/v1/groups/${groupId}`)).status).toBe(404);
    const docs = await fetch(`${stack.keyServiceUrl}/docs`);
    expect(docs.status).toBe(200);
  });
});
