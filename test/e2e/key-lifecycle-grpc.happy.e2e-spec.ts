import { randomBytes } from 'node:crypto';
import { api, testStack } from '@keygate/testing';
import { errorCode, GrpcStatus, keyServiceGrpc, reflectedServices } from './support/key-service-grpc.client';

// The key lifecycle over gRPC (keygate.keys.v1.KeyService through @grpc/grpc-js), with the same rules as REST:
// both transports sit on one application layer, so a key made over gRPC is the key REST shows.
describe('key lifecycle over gRPC', () => {
  const stack = testStack();
  const grpc = keyServiceGrpc(stack.grpcUrl, stack.adminToken);
  const rest = api(stack.keyServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  afterAll(() => grpc.close());

  it('creates, updates with expected_version, rotates with grace, suspends, revokes and deletes a key', async () => {
    const group = await grpc.call('CreateGroup', { name: `grpc-${run}`, routes: ['gpt-4o-mini'] });
    expect(group).toMatchObject({ id: expect.stringMatching(/^grp_/), routes: ['gpt-4o-mini'], version: 1 });
    expect((await grpc.call('GetGroup', { group_id: group.id })).name).toBe(`grpc-${run}`);

    const created = await grpc.call('CreateKey', {
      name: 'grpc bot',
      owner_id: `team-grpc-${run}`,
      group_ids: [group.id],
      ip_allow: ['192.168.0.0/16'],
      rate_limit: {
        requests_per_minute: 120,
        max_concurrent_requests: 4,
        routes: { 'gpt-4o-mini': { requests_per_minute: 10 } },
      },
      budget: { amount_usd: '10.00', period: 'day' },
      metadata: { via: 'grpc' },
    });
    expect(created.secret).toMatch(/^kg_live_[0-9A-Za-z]{49}$/);
    const key = created.key;
    expect(key).toMatchObject({
      id: expect.stringMatching(/^key_/),
      name: 'grpc bot',
      owner_id: `team-grpc-${run}`,
      environment: 'live',
      state: 'active',
      masked_key: `kg_live_…${created.secret.slice(-4)}`,
      group_ids: [group.id],
      accessible_routes: ['gpt-4o-mini'],
      ip_allow: ['192.168.0.0/16'],
      rate_limit: {
        requests_per_minute: 120,
        max_concurrent_requests: 4,
        routes: { 'gpt-4o-mini': { requests_per_minute: 10 } },
      },
      budget: { amount_usd: '10.00', period: 'day' },
      metadata: { via: 'grpc' },
      version: 1,
    });
    expect(key.expires_at).toBeUndefined();
    expect(JSON.stringify(await grpc.call('GetKey', { key_id: key.id }))).not.toContain(created.secret);

    // The same key through REST.
    const viaRest = await rest<any>('GET', `/v1/keys/${key.id}`);
    expect(viaRest.body).toMatchObject({
      id: key.id,
      name: 'grpc bot',
      ownerId: `team-grpc-${run}`,
      rateLimit: { requestsPerMinute: 120, routes: { 'gpt-4o-mini': { requestsPerMinute: 10 } } },
    });

    const listed = await grpc.call('ListKeys', { owner_id: `team-grpc-${run}` });
    expect(listed.data.map((k: { id: string }) => k.id)).toEqual([key.id]);
    expect(listed.next_cursor).toBeUndefined();

    const expiresAt = new Date(Date.now() + 7 * 86400_000).toISOString();
    const updated = await grpc.call('UpdateKey', {
      key_id: key.id,
      expected_version: 1,
      name: 'grpc bot v2',
      expires_at: expiresAt,
      ip_allow: { values: [] },
      clear_budget: true,
    });
    expect(updated).toMatchObject({ name: 'grpc bot v2', expires_at: expiresAt, ip_allow: [], version: 3 });
    expect(updated.budget).toBeUndefined();

    const conflict = await grpc.error('UpdateKey', {
      key_id: key.id,
      expected_version: 1,
      name: 'lost update',
    });
    expect(conflict.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(errorCode(conflict)).toBe('VERSION_CONFLICT');
    expect((await grpc.call('GetKey', { key_id: key.id })).name).toBe('grpc bot v2');

    const rotated = await grpc.call('RotateKey', { key_id: key.id, grace_period_seconds: 300 });
    expect(rotated.secret).toMatch(/^kg_live_/);
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.key.masked_key).toBe(`kg_live_…${rotated.secret.slice(-4)}`);
    expect(rotated.key.rotated_at).toEqual(expect.any(String));
    const audit = await grpc.call('ListAuditEvents', { aggregate_id: key.id, type: 'KeyRotated' });
    expect(audit.data).toHaveLength(1);
    const rotation = JSON.parse(audit.data[0].data_json);
    expect(Date.parse(rotation.previousValidUntil) - Date.parse(rotation.rotatedAt)).toBe(300_000);
    expect(audit.data[0].data_json).not.toMatch(/hash/i);

    const suspended = await grpc.call('SuspendKey', { key_id: key.id, reason: 'budget exceeded' });
    expect(suspended.state).toBe('suspended');
    const twice = await grpc.error('SuspendKey', { key_id: key.id, reason: 'again' });
    expect(twice.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(errorCode(twice)).toBe('KEY_ALREADY_SUSPENDED');
    expect((await grpc.call('ReactivateKey', { key_id: key.id })).state).toBe('active');

    expect((await grpc.call('RevokeKey', { key_id: key.id, reason: 'leaked' })).state).toBe('revoked');
    const revokedAgain = await grpc.error('RevokeKey', { key_id: key.id, reason: 'twice' });
    expect(revokedAgain.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(errorCode(revokedAgain)).toBe('KEY_ALREADY_REVOKED');
    expect(revokedAgain.details).toMatch(/^KEY_ALREADY_REVOKED: /);
    const reactivateRevoked = await grpc.error('ReactivateKey', { key_id: key.id });
    expect(reactivateRevoked.code).toBe(GrpcStatus.FAILED_PRECONDITION);

    expect(await grpc.call('DeleteKey', { key_id: key.id })).toEqual({});
    const gone = await grpc.error('GetKey', { key_id: key.id });
    expect(gone.code).toBe(GrpcStatus.NOT_FOUND);
    expect(errorCode(gone)).toBe('KEY_NOT_FOUND');

    const history = await grpc.call('ListAuditEvents', { aggregate_id: key.id });
    expect(history.data.map((e: { type: string }) => e.type)).toEqual([
      'KeyCreated',
      'KeyUpdated',
      'KeyRestrictionsChanged',
      'KeyRotated',
      'KeySuspended',
      'KeyReactivated',
      'KeyRevoked',
      'KeyDeleted',
    ]);
    expect(history.data[0]).toMatchObject({ actor: 'bootstrap', aggregate_id: key.id, stream_position: 1 });
  });

  it('moves keys between groups and lists routes and groups', async () => {
    const a = await grpc.call('CreateGroup', { name: `grpc-a-${run}`, routes: ['gpt-4o'] });
    const b = await grpc.call('CreateGroup', { name: `grpc-b-${run}`, routes: ['gemini-1.5-flash'] });
    const { key } = await grpc.call('CreateKey', {
      name: 'mover',
      owner_id: `team-grpc-${run}`,
      group_ids: [a.id],
    });
    const both = await grpc.call('AddKeyToGroup', { key_id: key.id, group_id: b.id });
    expect(both.accessible_routes).toEqual(['gemini-1.5-flash', 'gpt-4o']);
    const dup = await grpc.error('AddKeyToGroup', { key_id: key.id, group_id: b.id });
    expect(dup.code).toBe(GrpcStatus.ALREADY_EXISTS);
    const onlyB = await grpc.call('RemoveKeyFromGroup', { key_id: key.id, group_id: a.id });
    expect(onlyB.group_ids).toEqual([b.id]);

    const renamed = await grpc.call('UpdateGroup', {
      group_id: a.id,
      name: `grpc-a2-${run}`,
      routes: { values: [] },
    });
    expect(renamed).toMatchObject({ name: `grpc-a2-${run}`, routes: [] });

    // A group budget, shared by the group's keys: set on create, changed, cleared.
    const budgeted = await grpc.call('CreateGroup', {
      name: `grpc-budget-${run}`,
      budget: { amount_usd: '250.00', period: 'month' },
    });
    expect(budgeted.budget).toEqual({ amount_usd: '250.00', period: 'month' });
    const weekly = await grpc.call('UpdateGroup', {
      group_id: budgeted.id,
      budget: { amount_usd: '60', period: 'week' },
    });
    expect(weekly).toMatchObject({ budget: { amount_usd: '60', period: 'week' }, version: 2 });
    const setAndClear = await grpc.error('UpdateGroup', {
      group_id: budgeted.id,
      budget: { amount_usd: '1', period: 'day' },
      clear_budget: true,
    });
    expect(errorCode(setAndClear)).toBe('VALIDATION_FAILED');
    const cleared = await grpc.call('UpdateGroup', { group_id: budgeted.id, clear_budget: true });
    expect(cleared.budget).toBeUndefined();
    expect(cleared.version).toBe(3);
    expect(await grpc.call('DeleteGroup', { group_id: a.id })).toEqual({});
    const inUse = await grpc.error('DeleteGroup', { group_id: b.id });
    expect(inUse.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(errorCode(inUse)).toBe('GROUP_IN_USE');

    const groups = await grpc.call('ListGroups', { limit: 200 });
    expect(groups.data.map((g: { id: string }) => g.id)).toContain(b.id);
    const routes = await grpc.call('ListRoutes', {});
    expect(routes.data).toEqual(
      expect.arrayContaining([
        { name: 'gemini-1.5-flash', targets: [{ provider: 'gemini', model: 'gemini-1.5-flash' }] },
      ]),
    );
  });

  it('announces keygate.keys.v1.KeyService through server reflection', async () => {
    expect(await reflectedServices(stack.grpcUrl)).toContain('keygate.keys.v1.KeyService');
  });

  it('refuses bad input with INVALID_ARGUMENT and writes no event', async () => {
    const owner = `team-grpc-bad-${run}`;
    const cases: Array<[object, string]> = [
      [{ name: 'x', owner_id: owner, ip_allow: ['10.0.0.0/33'] }, 'INVALID_CIDR'],
      [{ name: 'x', owner_id: owner, expires_at: '2020-01-01T00:00:00Z' }, 'INVALID_EXPIRY'],
      [{ name: 'x', owner_id: owner, group_ids: ['grp_0000000000000000000000'] }, 'UNKNOWN_GROUP'],
      [{ name: 'x'.repeat(129), owner_id: owner }, 'VALIDATION_FAILED'],
      [{ owner_id: owner }, 'VALIDATION_FAILED'],
      [{ name: 'x', owner_id: owner, environment: 'prod' }, 'VALIDATION_FAILED'],
      [{ name: 'x', owner_id: owner, budget: { amount_usd: 'ten', period: 'day' } }, 'VALIDATION_FAILED'],
      [{ name: 'x', owner_id: owner, rate_limit: { requests_per_minute: 0 } }, 'VALIDATION_FAILED'],
      [{ name: 'x', owner_id: owner, rate_limit: { max_concurrent_requests: 0 } }, 'VALIDATION_FAILED'],
      [{ name: 'x', owner_id: owner, rate_limit: { routes: { 'gpt-4o': {} } } }, 'VALIDATION_FAILED'],
      [
        { name: 'x', owner_id: owner, rate_limit: { routes: { 'gpt-4o': { tokens_per_minute: 0 } } } },
        'VALIDATION_FAILED',
      ],
      [
        { name: 'x', owner_id: owner, rate_limit: { routes: { nope: { requests_per_minute: 1 } } } },
        'UNKNOWN_ROUTE',
      ],
      // PostgreSQL stores no NUL: refused up front, as over REST, not failed in the database.
      [{ name: 'nul \u0000 name', owner_id: owner }, 'VALIDATION_FAILED'],
      [{ name: 'x', owner_id: owner, metadata: { 'k\u0000': 'v' } }, 'VALIDATION_FAILED'],
    ];
    for (const [request, code] of cases) {
      const err = await grpc.error('CreateKey', request);
      expect({ request, status: err.code, code: errorCode(err) }).toEqual({
        request,
        status: GrpcStatus.INVALID_ARGUMENT,
        code,
      });
    }
    expect((await grpc.call('ListKeys', { owner_id: owner })).data).toEqual([]);

    const { key } = await grpc.call('CreateKey', { name: 'target', owner_id: owner });
    const mixed = await grpc.error('UpdateKey', {
      key_id: key.id,
      expires_at: new Date(Date.now() + 86400_000).toISOString(),
      clear_expires_at: true,
    });
    expect(mixed.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const noId = await grpc.error('GetKey', {});
    expect(noId.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    const events = await grpc.call('ListAuditEvents', { aggregate_id: key.id });
    expect(events.data).toHaveLength(1);
  });
});
