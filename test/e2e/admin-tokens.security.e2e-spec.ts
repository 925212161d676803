import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { api, testStack } from '@keygate/testing';
import { errorCode, GrpcStatus, keyServiceGrpc } from './support/key-service-grpc.client';

// Admin tokens: issued once in clear, stored as a hash, auditors read but never write (REST and gRPC alike),
// revocation is immediate, and no plaintext of a token, key or provider secret lands in the key-service's
// database or logs.
describe('admin tokens and management API security', () => {
  const stack = testStack();
  const root = api(stack.keyServiceUrl, stack.adminToken);
  const rootGrpc = keyServiceGrpc(stack.grpcUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  afterAll(() => rootGrpc.close());

  const issue = async (role: 'admin' | 'auditor') => {
    const res = await root<any>('POST', '/v1/admin-tokens', { name: `${role}-${run}`, role });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(/^adm_/),
      role,
      token: expect.stringMatching(/^kgadm_[0-9A-Za-z]{43}$/),
      maskedToken: `kgadm_…${res.body.token.slice(-4)}`,
      revokedAt: null,
    });
    return res.body as { id: string; token: string };
  };

  it('lets an auditor read and refuses every write, over REST and gRPC, without writing an event', async () => {
    const auditor = await issue('auditor');
    const { body: key } = await root<any>('POST', '/v1/keys', { name: 'audited', ownerId: `sec-${run}` });
    const { body: group } = await root<any>('POST', '/v1/groups', { name: `sec-${run}`, routes: [] });
    const as = api(stack.keyServiceUrl, auditor.token);
    const before = (await root<any>('GET', `/v1/audit?aggregateId=${key.id}`)).body.data.length;

    for (const path of [
      '/v1/keys',
      `/v1/keys/${key.id}`,
      '/v1/groups',
      '/v1/routes',
      '/v1/providers',
      '/v1/admin-tokens',
      '/v1/audit',
    ]) {
      const res = await as('GET', path);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
    }
    const writes: Array<[string, string, unknown?]> = [
      ['POST', '/v1/keys', { name: 'nope', ownerId: `sec-${run}` }],
      ['PATCH', `/v1/keys/${key.id}`, { name: 'nope' }],
      ['POST', `/v1/keys/${key.id}/revoke`, { reason: 'nope' }],
      ['POST', `/v1/keys/${key.id}/rotate`, {}],
      ['DELETE', `/v1/keys/${key.id}`],
      ['PUT', `/v1/keys/${key.id}/groups/${group.id}`],
      ['POST', '/v1/groups', { name: 'nope' }],
      ['POST', '/v1/providers', { name: 'nope', type: 'openai', secret: 'sk-nope-nope-nope' }],
      ['POST', '/v1/providers/prv_0000000000000000000000/test'],
      ['POST', '/v1/admin-tokens', { name: 'escalate', role: 'admin' }],
      ['DELETE', `/v1/admin-tokens/${auditor.id}`],
    ];
    for (const [method, path, body] of writes) {
      const res = await as<any>(method, path, body);
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({
        method,
        path,
        status: 403,
        code: 'FORBIDDEN',
      });
    }

    const grpc = keyServiceGrpc(stack.grpcUrl, auditor.token);
    try {
      expect((await grpc.call('GetKey', { key_id: key.id })).id).toBe(key.id);
      expect((await grpc.call('ListAuditEvents', { aggregate_id: key.id })).data.length).toBe(before);
      for (const [method, request] of [
        ['CreateKey', { name: 'nope', owner_id: `sec-${run}` }],
        ['SuspendKey', { key_id: key.id, reason: 'nope' }],
        ['RevokeKey', { key_id: key.id }],
        ['DeleteGroup', { group_id: group.id }],
        ['IssueAdminToken', { name: 'escalate', role: 'admin' }],
        ['TestProvider', { provider_id: 'prv_0000000000000000000000' }],
      ] as const) {
        const err = await grpc.error(method, request);
        expect({ method, status: err.code, code: errorCode(err) }).toEqual({
          method,
          status: GrpcStatus.PERMISSION_DENIED,
          code: 'FORBIDDEN',
        });
      }
    } finally {
      grpc.close();
    }
    const after = await root<any>('GET', `/v1/audit?aggregateId=${key.id}`);
    expect(after.body.data.length).toBe(before);
    expect((await root<any>('GET', `/v1/keys/${key.id}`)).body).toMatchObject({
      name: 'audited',
      state: 'active',
    });
  });

  it('acts as the issued admin token and stops it the moment it is revoked', async () => {
    const token = await issue('admin');
    const as = api(stack.keyServiceUrl, token.token);
    const grpc = keyServiceGrpc(stack.grpcUrl, token.token);
    try {
      const created = await as<any>('POST', '/v1/keys', { name: 'by token', ownerId: `sec-${run}` });
      expect(created.status).toBe(201);
      const viaGrpc = await grpc.call('CreateKey', { name: 'by token grpc', owner_id: `sec-${run}` });
      const audit = await root<any>('GET', `/v1/audit?aggregateId=${created.body.id}`);
      expect(audit.body.data[0].actor).toBe(token.id);
      const grpcAudit = await rootGrpc.call('ListAuditEvents', { aggregate_id: viaGrpc.key.id });
      expect(grpcAudit.data[0].actor).toBe(token.id);

      const revoked = await root<any>('DELETE', `/v1/admin-tokens/${token.id}`);
      expect(revoked.status).toBe(200);
      expect(revoked.body.revokedAt).toEqual(expect.any(String));
      const refused = await as<any>('GET', '/v1/keys');
      expect(refused.status).toBe(401);
      expect(refused.body.error.code).toBe('UNAUTHENTICATED');
      const grpcRefused = await grpc.error('ListKeys', {});
      expect(grpcRefused.code).toBe(GrpcStatus.UNAUTHENTICATED);
      const twice = await root<any>('DELETE', `/v1/admin-tokens/${token.id}`);
      expect(twice.status).toBe(409);
      expect(twice.body.error.code).toBe('ADMIN_TOKEN_ALREADY_REVOKED');
    } finally {
      grpc.close();
    }
  });

  it('manages admin tokens over gRPC too', async () => {
    const issued = await rootGrpc.call('IssueAdminToken', { name: `grpc-${run}`, role: 'auditor' });
    expect(issued.token).toMatch(/^kgadm_/);
    expect(issued.admin_token).toMatchObject({
      role: 'auditor',
      masked_token: `kgadm_…${issued.token.slice(-4)}`,
    });
    const listed = await rootGrpc.call('ListAdminTokens', { limit: 200 });
    const mine = listed.data.find((t: { id: string }) => t.id === issued.admin_token.id);
    expect(mine).toMatchObject({ name: `grpc-${run}`, role: 'auditor' });
    expect(JSON.stringify(listed)).not.toContain(issued.token);
    const revoked = await rootGrpc.call('RevokeAdminToken', { token_id: issued.admin_token.id });
    expect(revoked.revoked_at).toEqual(expect.any(String));
    const bad = await rootGrpc.error('IssueAdminToken', { name: 'x', role: 'superuser' });
    expect(bad.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  });

  it('refuses missing and wrong credentials on both transports', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: 'Bearer kgadm_wrong' },
      { authorization: 'Basic abc' },
    ];
    for (const headers of attempts) {
      const res = await fetch(`${stack.keyServiceUrl}/v1/keys`, { headers });
      expect(res.status).toBe(401);
    }
    for (const token of [null, 'kgadm_wrong']) {
      const err = await rootGrpc.error('ListKeys', {}, token);
      expect(err.code).toBe(GrpcStatus.UNAUTHENTICATED);
      expect(errorCode(err)).toBe('UNAUTHENTICATED');
    }
  });

  it('keeps plaintext tokens, keys and provider secrets out of the database and the logs', async () => {
    const token = await issue('auditor');
    const { body: key } = await root<any>('POST', '/v1/keys', { name: 'leak check', ownerId: `sec-${run}` });
    const rotated = await root<any>('POST', `/v1/keys/${key.id}/rotate`, { gracePeriodSeconds: 0 });
    const providerSecret = `sk-leakcheck-${randomBytes(16).toString('hex')}`;
    const provider = await root<any>('POST', '/v1/providers', {
      name: `leak-${run}`,
      type: 'openai',
      secret: providerSecret,
      settings: { baseUrl: `${stack.mockUrl}/v1` },
    });
    expect(provider.status).toBe(201);
    await root('POST', `/v1/providers/${provider.body.id}/test`);
    const plaintexts = [token.token, key.key, rotated.body.key, providerSecret];

    // Every row of every table, as text: a poor man's pg_dump.
    const db = new Client({ connectionString: stack.keysDatabaseUrl });
    await db.connect();
    try {
      const tables: { tablename: string }[] = (
        await db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public'`)
      ).rows;
      expect(tables.map((t) => t.tablename)).toEqual(
        expect.arrayContaining(['events', 'provider_credentials']),
      );
      for (const { tablename } of tables) {
        const { rows } = await db.query(`SELECT t::text AS row FROM "${tablename}" t`);
        const dump = rows.map((r: { row: string }) => r.row).join('\n');
        for (const p of plaintexts)
          expect({ tablename, leaked: dump.includes(p) }).toEqual({ tablename, leaked: false });
      }
    } finally {
      await db.end();
    }

    const logs = readdirSync(stack.logDir)
      .filter((f) => f.startsWith('key-service'))
      .map((f) => readFileSync(join(stack.logDir, f), 'utf8'))
      .join('\n');
    expect(logs.length).toBeGreaterThan(0);
    for (const p of plaintexts) expect(logs.includes(p)).toBe(false);
  });
});
