import { randomBytes } from 'node:crypto';
import { api, testStack } from '@keygate/testing';

// Bad input over REST: every refusal has a status, a stable code and a request id, and writes no event.
describe('key management over REST: bad input', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  const startedAt = new Date(Date.now() - 1000).toISOString();

  const auditOf = async (query: string) => {
    const res = await admin<any>('GET', `/v1/audit?${query}&limit=500`);
    expect(res.status).toBe(200);
    return res.body.data as Array<{ type: string; aggregateId: string; data: Record<string, unknown> }>;
  };

  const base = (owner: string) => ({ name: 'bad input', ownerId: owner });

  it.each<[string, (owner: string) => unknown, number, string]>([
    ['a malformed CIDR', (o) => ({ ...base(o), ipAllow: ['10.0.0.0/33'] }), 422, 'INVALID_CIDR'],
    ['a CIDR that is not an address', (o) => ({ ...base(o), ipDeny: ['not-an-ip'] }), 422, 'INVALID_CIDR'],
    ['a past expiry', (o) => ({ ...base(o), expiresAt: '2020-01-01T00:00:00Z' }), 422, 'INVALID_EXPIRY'],
    [
      'an unknown group',
      (o) => ({ ...base(o), groupIds: ['grp_0000000000000000000000'] }),
      422,
      'UNKNOWN_GROUP',
    ],
    ['an unknown tier', (o) => ({ ...base(o), rateLimit: { tier: 'platinum' } }), 422, 'UNKNOWN_TIER'],
    ['an oversized name', (o) => ({ ...base(o), name: 'x'.repeat(129) }), 400, 'VALIDATION_FAILED'],
    ['a missing name', (o) => ({ ownerId: o }), 400, 'VALIDATION_FAILED'],
    ['a name of the wrong type', (o) => ({ ...base(o), name: 42 }), 400, 'VALIDATION_FAILED'],
    [
      'a rate limit of the wrong type',
      (o) => ({ ...base(o), rateLimit: { requestsPerMinute: '10' } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'a budget that is not a decimal',
      (o) => ({ ...base(o), budget: { amountUsd: 'ten', period: 'day' } }),
      400,
      'VALIDATION_FAILED',
    ],
    ['an unknown environment', (o) => ({ ...base(o), environment: 'prod' }), 400, 'VALIDATION_FAILED'],
    ['an unknown field', (o) => ({ ...base(o), isAdmin: true }), 400, 'VALIDATION_FAILED'],
    [
      'an unknown nested field',
      (o) => ({ ...base(o), rateLimit: { tier: 'free', burst: 5 } }),
      400,
      'VALIDATION_FAILED',
    ],
    [
      'too many IP ranges',
      (o) => ({ ...base(o), ipAllow: Array(201).fill('10.0.0.0/8') }),
      400,
      'VALIDATION_FAILED',
    ],
  ])('refuses a key with %s', async (_case, body, status, code) => {
    const owner = `bad-${run}-${randomBytes(3).toString('hex')}`;
    const res = await admin<any>('POST', '/v1/keys', body(owner));
    expect(res.status).toBe(status);
    expect(res.body.error).toMatchObject({
      code,
      message: expect.any(String),
      requestId: expect.any(String),
    });
    expect(res.body.key).toBeUndefined();
    // No event: nothing was created for this owner, in the read model or in the store.
    expect((await admin<any>('GET', `/v1/keys?ownerId=${owner}`)).body.data).toEqual([]);
    const created = await auditOf(`type=KeyCreated&from=${startedAt}`);
    expect(created.filter((e) => e.data.ownerId === owner)).toEqual([]);
  });

  it('refuses malformed JSON and a body that is not an object', async () => {
    const bad = await admin<any>('POST', '/v1/keys', '{"name": "x",');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toEqual(expect.any(String));
    const array = await admin<any>('POST', '/v1/keys', '[1,2]');
    expect(array.status).toBe(400);
  });

  it('refuses bad updates to an existing key without writing an event', async () => {
    const created = await admin<any>('POST', '/v1/keys', { name: 'victim', ownerId: `bad-${run}` });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const before = await auditOf(`aggregateId=${id}`);

    const cases: Array<[unknown, Record<string, string>, number, string]> = [
      [{ ipAllow: ['300.1.1.1/8'] }, {}, 422, 'INVALID_CIDR'],
      [{ expiresAt: new Date(Date.now() - 60_000).toISOString() }, {}, 422, 'INVALID_EXPIRY'],
      [{ rateLimit: { requestsPerMinute: 0 } }, {}, 400, 'VALIDATION_FAILED'],
      // Per-route limits: one number at least, only known fields, known routes.
      [{ rateLimit: { routes: { 'gpt-4o': {} } } }, {}, 400, 'VALIDATION_FAILED'],
      [
        { rateLimit: { routes: { 'gpt-4o': { requestsPerMinute: 1, rpm: 2 } } } },
        {},
        400,
        'VALIDATION_FAILED',
      ],
      [{ rateLimit: { routes: { 'gpt-4o': { requestsPerMinute: 0 } } } }, {}, 400, 'VALIDATION_FAILED'],
      [{ rateLimit: { routes: { nope: { requestsPerMinute: 1 } } } }, {}, 422, 'UNKNOWN_ROUTE'],
      [{ owner: 'someone-else' }, {}, 400, 'VALIDATION_FAILED'],
      [{}, {}, 400, 'VALIDATION_FAILED'],
      [{ name: 'renamed' }, { 'if-match': 'yesterday' }, 400, 'VALIDATION_FAILED'],
      [{ name: 'renamed' }, { 'if-match': '"7"' }, 412, 'VERSION_CONFLICT'],
    ];
    for (const [body, headers, status, code] of cases) {
      const res = await admin<any>('PATCH', `/v1/keys/${id}`, body, headers);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status, code });
    }
    const rotate = await admin<any>('POST', `/v1/keys/${id}/rotate`, { gracePeriodSeconds: -1 });
    expect(rotate.status).toBe(400);
    const join = await admin<any>('PUT', `/v1/keys/${id}/groups/grp_0000000000000000000000`);
    expect([404, 422]).toContain(join.status);
    expect((await auditOf(`aggregateId=${id}`)).length).toBe(before.length);
    expect((await admin<any>('GET', `/v1/keys/${id}`)).body).toMatchObject({ name: 'victim', version: 1 });
  });

  it('answers 404 with a code for unknown resources and 400 for bad list filters', async () => {
    for (const path of ['/v1/keys/key_0000000000000000000000', '/v1/groups/grp_0000000000000000000000']) {
      const res = await admin<any>('GET', path);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toMatch(/_NOT_FOUND$/);
    }
    for (const query of ['limit=0', 'limit=abc', 'state=dormant', 'expiringBefore=soon', 'colour=red']) {
      const res = await admin<any>('GET', `/v1/keys?${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
    }
    for (const query of ['type=KeyExploded', 'from=yesterday', 'limit=501', 'cursor=%2F%2F']) {
      const res = await admin<any>('GET', `/v1/audit?${query}`);
      expect({ query, status: res.status, code: res.body.error?.code }).toEqual({
        query,
        status: 400,
        code: 'VALIDATION_FAILED',
      });
    }
  });
});
