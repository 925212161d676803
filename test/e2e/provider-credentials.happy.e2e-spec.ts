import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { api, freeTestPort, startService, testStack, type RunningService } from '@keygate/testing';
import { errorCode, GrpcStatus, keyServiceGrpc } from './support/key-service-grpc.client';

// Upstream provider credentials as a "Neurond" administrator manages them: add, test the connection against
// the (mock) provider, rotate, update settings, remove — the secret never comes back, not even masked beyond
// its last 4 characters, and /test reports failures without leaking it.
describe('provider credentials', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const grpc = keyServiceGrpc(stack.grpcUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  const secret = (label: string) => `sk-${label}-${randomBytes(12).toString('hex')}`;
  const servers: Server[] = [];
  afterAll(async () => {
    grpc.close();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  });

  // A local upstream with scripted behaviour, for the failures the mock provider does not script per call.
  const upstream = async (handler: Parameters<typeof createServer>[1]): Promise<string> => {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  const add = async (body: Record<string, unknown>) => {
    const res = await admin<any>('POST', '/v1/providers', body);
    expect(res.status).toBe(201);
    return res.body;
  };

  it('adds, tests, rotates, updates and removes an OpenAI credential', async () => {
    const first = secret('openai');
    const created = await add({
      name: `openai-${run}`,
      type: 'openai',
      secret: first,
      settings: { baseUrl: `${stack.mockUrl}/v1`, organization: 'org-e2e' },
    });
    expect(created).toEqual({
      id: expect.stringMatching(/^prv_/),
      name: `openai-${run}`,
      type: 'openai',
      maskedSecret: `…${first.slice(-4)}`,
      settings: { baseUrl: `${stack.mockUrl}/v1`, organization: 'org-e2e' },
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      version: 1,
    });

    const ok = await admin<any>('POST', `/v1/providers/${created.id}/test`);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ok: true, status: 200, latencyMs: expect.any(Number) });

    const listed = await admin<any>('GET', '/v1/providers?limit=200');
    expect(listed.body.data.map((p: { id: string }) => p.id)).toContain(created.id);
    expect(JSON.stringify(listed.body)).not.toContain(first);

    const second = secret('openai2');
    const rotated = await admin<any>('POST', `/v1/providers/${created.id}/rotate`, { secret: second });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toMatchObject({ maskedSecret: `…${second.slice(-4)}`, version: 2 });
    expect((await admin<any>('POST', `/v1/providers/${created.id}/test`)).body.ok).toBe(true);

    // The secret only goes where an admin sent it together with the secret: a URL change is a rotate.
    const unbound = await admin<any>('PATCH', `/v1/providers/${created.id}`, {
      settings: { baseUrl: `${stack.mockUrl}/nowhere` },
    });
    expect(unbound.status).toBe(422);
    expect(unbound.body.error).toMatchObject({ code: 'PROVIDER_SECRET_REQUIRED', field: 'settings.baseUrl' });
    const moved = await admin<any>('POST', `/v1/providers/${created.id}/rotate`, {
      secret: second,
      settings: { baseUrl: `${stack.mockUrl}/nowhere` },
    });
    expect(moved.body).toMatchObject({ settings: { baseUrl: `${stack.mockUrl}/nowhere` }, version: 3 });
    const notThere = await admin<any>('POST', `/v1/providers/${created.id}/test`);
    expect(notThere.body).toMatchObject({
      ok: false,
      status: 404,
      reason: 'NOT_FOUND',
      error: expect.stringContaining('404'),
    });

    expect((await admin('DELETE', `/v1/providers/${created.id}`)).status).toBe(204);
    const gone = await admin<any>('POST', `/v1/providers/${created.id}/test`);
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('PROVIDER_NOT_FOUND');

    const audit = await admin<any>('GET', `/v1/audit?aggregateId=${created.id}`);
    expect(audit.body.data.map((e: { type: string }) => e.type)).toEqual([
      'ProviderCredentialAdded',
      'ProviderCredentialRotated',
      'ProviderCredentialRotated',
      'ProviderCredentialRemoved',
    ]);
    const text = JSON.stringify(audit.body);
    for (const hidden of [first, second, 'ciphertext', 'wrappedDataKey']) expect(text).not.toContain(hidden);
  });

  it('tests Azure and Gemini credentials against their own wire formats', async () => {
    const azure = await add({
      name: `azure-${run}`,
      type: 'azure',
      secret: secret('azure'),
      settings: { endpoint: stack.mockUrl, deployment: 'gpt-4o-mini', apiVersion: '2024-10-21' },
    });
    const gemini = await add({
      name: `gemini-${run}`,
      type: 'gemini',
      secret: secret('gemini'),
      settings: { baseUrl: stack.mockUrl },
    });
    for (const id of [azure.id, gemini.id]) {
      const res = await admin<any>('POST', `/v1/providers/${id}/test`);
      expect({ id, ...res.body }).toEqual({ id, ok: true, status: 200, latencyMs: expect.any(Number) });
    }
    // Over gRPC, the same answer in the .proto's shape.
    const viaGrpc = await grpc.call('TestProvider', { provider_id: gemini.id });
    expect(viaGrpc).toMatchObject({ ok: true, status: 200 });
  });

  it('reports upstream failures with status and a scrubbed error, never the secret', async () => {
    const leaky = secret('leaky');
    // An upstream that echoes the credential back in its error, as some providers do with partial keys.
    const echo = await upstream((req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      const given = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      res.end(
        JSON.stringify({ error: { message: `Incorrect API key provided: ${given} (${given.slice(4)})` } }),
      );
    });
    const bad = await add({
      name: `leaky-${run}`,
      type: 'openai',
      secret: leaky,
      settings: { baseUrl: echo },
    });
    const refused = await admin<any>('POST', `/v1/providers/${bad.id}/test`);
    expect(refused.status).toBe(200);
    expect(refused.body).toMatchObject({
      ok: false,
      status: 401,
      reason: 'KEY_REFUSED',
      error: expect.stringContaining('Incorrect API key'),
    });
    expect(JSON.stringify(refused.body)).not.toContain(leaky.slice(4, 16));

    let followed = false;
    const elsewhere = await upstream((_req, res) => {
      followed = true;
      res.end('{}');
    });
    const redirecting = await upstream((_req, res) => {
      res.writeHead(302, { location: `${elsewhere}/v1/models` });
      res.end();
    });
    const moveTo = (baseUrl: string) =>
      admin('POST', `/v1/providers/${bad.id}/rotate`, { secret: leaky, settings: { baseUrl } });
    await moveTo(redirecting);
    const redirected = await admin<any>('POST', `/v1/providers/${bad.id}/test`);
    expect(redirected.body).toMatchObject({
      ok: false,
      status: 302,
      error: expect.stringMatching(/redirect/),
    });
    expect(followed).toBe(false);

    await moveTo(`http://127.0.0.1:${await freeTestPort()}`);
    const refusedConn = await admin<any>('POST', `/v1/providers/${bad.id}/test`);
    expect(refusedConn.body).toMatchObject({
      ok: false,
      status: 0,
      reason: 'CONNECTION_REFUSED',
      error: 'connection refused',
    });

    // TLS spoken to a plain-HTTP listener: the handshake fails.
    await moveTo(echo.replace('http:', 'https:'));
    const tls = await admin<any>('POST', `/v1/providers/${bad.id}/test`);
    expect(tls.body).toMatchObject({
      ok: false,
      status: 0,
      reason: 'TLS_ERROR',
      error: expect.stringMatching(/^TLS error/),
    });

    const silent = await upstream(() => undefined); // accepts, never answers
    await moveTo(silent);
    const slow = await admin<any>('POST', `/v1/providers/${bad.id}/test`);
    expect(slow.body).toMatchObject({
      ok: false,
      status: 0,
      reason: 'TIMEOUT',
      error: expect.stringMatching(/5000 ms/),
    });
    expect(slow.body.latencyMs).toBeGreaterThanOrEqual(4900);
    expect(slow.body.latencyMs).toBeLessThan(7000);
  });

  it('refuses bad credentials input with a code and no event', async () => {
    const name = `dup-${run}`;
    await add({ name, type: 'gemini', secret: secret('dup'), settings: { baseUrl: stack.mockUrl } });
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ name, type: 'gemini', secret: secret('dup2') }, 409, 'PROVIDER_ALREADY_EXISTS'],
      [{ name: `x-${run}`, type: 'anthropic', secret: secret('x') }, 400, 'VALIDATION_FAILED'],
      [{ name: `x-${run}`, type: 'openai', secret: 'short' }, 400, 'VALIDATION_FAILED'],
      [{ name: `x-${run}`, type: 'openai', secret: 'has a space in it' }, 400, 'VALIDATION_FAILED'],
      [
        { name: `x-${run}`, type: 'openai', secret: secret('x'), settings: { proxy: 'http://evil' } },
        400,
        'VALIDATION_FAILED',
      ],
      [
        { name: `x-${run}`, type: 'openai', secret: secret('x'), settings: { baseUrl: 'ftp://host' } },
        400,
        'VALIDATION_FAILED',
      ],
      [{ name: 'env:OPENAI_API_KEY', type: 'openai', secret: secret('x') }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const res = await admin<any>('POST', '/v1/providers', body);
      expect({ name: body.name, status: res.status, code: res.body.error?.code }).toEqual({
        name: body.name,
        status,
        code,
      });
      expect(JSON.stringify(res.body)).not.toContain(String(body.secret));
    }
    const added = await admin<any>(`GET`, `/v1/audit?type=ProviderCredentialAdded&limit=500`);
    const names = added.body.data.map((e: { data: { name: string } }) => e.data.name);
    expect(names.filter((n: string) => n === name)).toHaveLength(1);
    expect(names).not.toContain(`x-${run}`);

    const grpcBad = await grpc.error('AddProvider', {
      name: `y-${run}`,
      type: 'openai',
      secret: secret('y'),
      settings: { nope: '1' },
    });
    expect(grpcBad.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(errorCode(grpcBad)).toBe('VALIDATION_FAILED');
  });

  describe('without KEYGATE_MASTER_KEY', () => {
    let bare: RunningService;
    let url: string;
    beforeAll(async () => {
      const [http, grpcPort] = [await freeTestPort(), await freeTestPort()];
      url = `http://127.0.0.1:${http}`;
      bare = await startService(
        stack,
        'key-service',
        {
          KEYGATE_MASTER_KEY: '',
          KEY_SERVICE_HTTP_PORT: String(http),
          KEY_SERVICE_GRPC_PORT: String(grpcPort),
        },
        `${url}/health/ready`,
      );
    });
    afterAll(() => bare?.stop());

    it('answers 503 MASTER_KEY_NOT_CONFIGURED and stores nothing', async () => {
      const res = await api(url, stack.adminToken)<any>('POST', '/v1/providers', {
        name: `nokey-${run}`,
        type: 'openai',
        secret: secret('nokey'),
      });
      expect(res.status).toBe(503);
      expect(res.body.error.code).toBe('MASTER_KEY_NOT_CONFIGURED');
      const list = await admin<any>('GET', '/v1/providers?limit=200');
      expect(list.body.data.map((p: { name: string }) => p.name)).not.toContain(`nokey-${run}`);
    });
  });
});
