import { api, chat, createKey, eventually, testStack } from '@keygate/testing';
import { errorCode, GrpcStatus, keyServiceGrpc } from './support/key-service-grpc.client';

interface KeyAt {
  state: string;
  name: string;
  ipAllow: string[];
  accessibleRoutes: string[];
  asOf: { at: string; event: { type: string; streamPosition: number; data: Record<string, unknown> } };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Any past state of a key can be read back: folded from its events up to that instant, with the event that made it so.
describe('a key as it was at an instant', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const grpc = keyServiceGrpc(stack.grpcUrl, stack.adminToken);
  afterAll(() => grpc.close());

  it('answers the pre-revocation state before the revocation and the revoked one after, over REST and gRPC', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const k = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    await pause(30);
    const created = new Date().toISOString();
    await pause(30);
    expect((await admin('PATCH', `/v1/keys/${k.id}`, { ipAllow: ['10.0.0.0/8'] })).status).toBe(200);
    await pause(30);
    const restricted = new Date().toISOString();
    await pause(30);
    expect((await admin('POST', `/v1/keys/${k.id}/revoke`, { reason: 'leaked' })).status).toBe(200);
    await pause(30);
    const after = new Date().toISOString();

    const at = (t: string) => admin<KeyAt>('GET', `/v1/keys/${k.id}?at=${encodeURIComponent(t)}`);
    const first = await at(created);
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBeNull();
    expect(first.body).toMatchObject({
      state: 'active',
      ipAllow: [],
      accessibleRoutes: ['gpt-4o-mini'],
      asOf: { at: created, event: { type: 'KeyCreated', streamPosition: 1 } },
    });
    expect(first.body.asOf.event.data).not.toHaveProperty('hash');
    expect((await at(restricted)).body).toMatchObject({
      state: 'active',
      ipAllow: ['10.0.0.0/8'],
      asOf: { event: { type: 'KeyRestrictionsChanged', streamPosition: 2 } },
    });
    expect((await at(after)).body).toMatchObject({
      state: 'revoked',
      asOf: { event: { type: 'KeyRevoked', streamPosition: 3, data: { reason: 'leaked' } } },
    });
    expect(JSON.stringify((await at(after)).body)).not.toContain(k.key);

    const early = await grpc.call('GetKey', { key_id: k.id, at: created });
    expect(early).toMatchObject({ state: 'active', as_of: { event: { type: 'KeyCreated' } } });
    const late = await grpc.call('GetKey', { key_id: k.id, at: after });
    expect(late).toMatchObject({ state: 'revoked', as_of: { event: { type: 'KeyRevoked' } } });
    // Without at, GetKey is today's key and carries no as_of.
    expect((await grpc.call('GetKey', { key_id: k.id })).as_of).toBeFalsy();

    // Before it existed: not found. Not an instant: a coded 400.
    const none = await at(before);
    expect(none.status).toBe(404);
    expect((none.body as unknown as { error: { code: string } }).error.code).toBe('KEY_NOT_FOUND');
    for (const bad of ['yesterday', '2026-13-45T00:00:00Z', '1700000000']) {
      const res = await at(bad);
      expect(res.status).toBe(400);
      expect((res.body as unknown as { error: { code: string } }).error.code).toBe('VALIDATION_FAILED');
    }
    const grpcBad = await grpc.error('GetKey', { key_id: k.id, at: 'yesterday' });
    expect(grpcBad.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(errorCode(grpcBad)).toBe('VALIDATION_FAILED');
  });

  it('links a ledger row to the key as it was when its request arrived (which restrictions applied to req_…)', async () => {
    const usage = api(stack.usageServiceUrl, stack.adminToken);
    const k = await createKey(stack, { routes: ['gpt-4o-mini'] });
    const served = await chat(stack.gatewayUrl, k.key, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(served.status).toBe(200);
    const requestId = served.headers.get('x-request-id')!;
    // Restricted and revoked afterwards: the request's key state is still the one it was served under.
    expect((await admin('PATCH', `/v1/keys/${k.id}`, { ipAllow: ['10.0.0.0/8'] })).status).toBe(200);
    expect((await admin('POST', `/v1/keys/${k.id}/revoke`, { reason: 'leaked' })).status).toBe(200);

    const row = await eventually(
      () =>
        usage<{ keyId: string; status: number; keyAsOf: string }>('GET', `/v1/usage/requests/${requestId}`),
      (r) => r.status === 200,
    );
    expect(row.body).toMatchObject({ keyId: k.id, status: 200, route: 'gpt-4o-mini' });
    const then = await admin<KeyAt>('GET', row.body.keyAsOf);
    expect(then.status).toBe(200);
    expect(then.body).toMatchObject({
      state: 'active',
      ipAllow: [],
      asOf: { event: { type: 'KeyCreated' } },
    });
    expect((await admin<KeyAt>('GET', `/v1/keys/${k.id}`)).body.state).toBe('revoked');

    const missing = await usage<{ error: { code: string } }>('GET', '/v1/usage/requests/req_nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('REQUEST_NOT_FOUND');
  });
});
