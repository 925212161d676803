import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { api, eventually, testStack, waitForGateway } from '@keygate/testing';

// The API the console needs (issue 16, part 8): a key from a name and a group only, routes with the group that
// grants each, lastUsedAt from real traffic, the unusedSince filter, the console's config, usage-service's
// OpenAPI page and its CORS answer for the console's origin only.
describe('the API behind the console', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');

  it('creates a key from a name and a group, and lists each route with the group granting it', async () => {
    const chat = await admin<any>('POST', '/v1/groups', {
      name: `chat-${run}`,
      routes: ['gpt-4o-mini', 'gpt-4o'],
    });
    const mini = await admin<any>('POST', '/v1/groups', { name: `mini-${run}`, routes: ['gpt-4o-mini'] });
    const created = await admin<any>('POST', '/v1/keys', {
      name: `radicalbit ${run}`,
      groupIds: [chat.body.id],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ownerId: null, accessibleRoutes: ['gpt-4o', 'gpt-4o-mini'] });
    expect(created.body.routeGrants).toEqual([
      { route: 'gpt-4o', groups: [{ id: chat.body.id, name: `chat-${run}` }] },
      { route: 'gpt-4o-mini', groups: [{ id: chat.body.id, name: `chat-${run}` }] },
    ]);

    const added = await admin<any>('PUT', `/v1/keys/${created.body.id}/groups/${mini.body.id}`);
    expect(added.status).toBe(200);
    expect(added.body.routeGrants).toEqual([
      { route: 'gpt-4o', groups: [{ id: chat.body.id, name: `chat-${run}` }] },
      {
        route: 'gpt-4o-mini',
        groups: [
          { id: chat.body.id, name: `chat-${run}` },
          { id: mini.body.id, name: `mini-${run}` },
        ],
      },
    ]);
    const read = await admin<any>('GET', `/v1/keys/${created.body.id}`);
    expect(read.body.routeGrants).toEqual(added.body.routeGrants);
    expect(read.body.ownerId).toBeNull();
  });

  it('refuses an empty name and a blank ownerId is no owner', async () => {
    const noName = await admin<any>('POST', '/v1/keys', { groupIds: [] });
    expect(noName.status).toBe(400);
    expect(JSON.stringify(noName.body)).toContain('name');
    const blankOwner = await admin<any>('POST', '/v1/keys', { name: `blank ${run}`, ownerId: '' });
    expect(blankOwner.status).toBe(201);
    expect(blankOwner.body.ownerId).toBeNull();
  });

  it('records lastUsedAt from gateway traffic within seconds, and unusedSince finds the idle keys', async () => {
    const group = await admin<any>('POST', '/v1/groups', { name: `used-${run}`, routes: ['gpt-4o-mini'] });
    const used = await admin<any>('POST', '/v1/keys', { name: `used ${run}`, groupIds: [group.body.id] });
    const idle = await admin<any>('POST', '/v1/keys', { name: `idle ${run}`, groupIds: [group.body.id] });
    expect(used.body.lastUsedAt).toBeNull();
    await waitForGateway(stack.gatewayUrl, used.body.key);
    const before = Date.now();
    const openai = new OpenAI({ apiKey: used.body.key, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });
    await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'hi' }],
    });

    const seen = await eventually(
      () => admin<any>('GET', `/v1/keys/${used.body.id}`),
      (r) => r.body.lastUsedAt !== null,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const lastUsed = Date.parse(seen.body.lastUsedAt);
    expect(Math.abs(lastUsed - before)).toBeLessThan(60_000);

    const since = new Date(Date.now() + 1000).toISOString();
    await new Promise((r) => setTimeout(r, 1100));
    const unused = await admin<any>(
      'GET',
      `/v1/keys?unusedSince=${encodeURIComponent(since)}&search=${run}&limit=200`,
    );
    expect(unused.status).toBe(200);
    const ids = unused.body.data.map((k: { id: string }) => k.id);
    expect(ids).toEqual(expect.arrayContaining([used.body.id, idle.body.id]));

    const sinceBefore = new Date(before - 1000).toISOString();
    const idleOnly = await admin<any>(
      'GET',
      `/v1/keys?unusedSince=${encodeURIComponent(sinceBefore)}&search=${run}`,
    );
    const idleIds = idleOnly.body.data.map((k: { id: string }) => k.id);
    // Both were created before `before`; only the one without traffic since then is unused.
    expect(idleIds).not.toContain(used.body.id);
    expect((await admin<any>('GET', '/v1/keys?unusedSince=yesterday')).status).toBe(400);
  });

  it('tells the console where the gateway and usage-service are', async () => {
    const res = await admin<any>('GET', '/v1/console/config');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      gatewayBaseUrl: `${stack.gatewayUrl}/v1`,
      usageServiceUrl: stack.usageServiceUrl,
      role: 'admin',
    });
    expect((await fetch(`${stack.keyServiceUrl}/v1/console/config`)).status).toBe(401);
  });

  it('serves the usage-service OpenAPI document at /docs', async () => {
    const page = await fetch(`${stack.usageServiceUrl}/docs`);
    expect(page.status).toBe(200);
    const doc = (await (await fetch(`${stack.usageServiceUrl}/docs-json`)).json()) as { paths: object };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/usage/summary', '/v1/alerts']));
  });

  it("answers CORS preflights for the console's origin only", async () => {
    const preflight = (origin: string) =>
      fetch(`${stack.usageServiceUrl}/v1/usage/summary`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'GET',
          'access-control-request-headers': 'authorization',
        },
      });
    const ok = await preflight(stack.keyServiceUrl);
    expect(ok.status).toBeLessThan(300);
    expect(ok.headers.get('access-control-allow-origin')).toBe(stack.keyServiceUrl);
    expect(ok.headers.get('access-control-allow-headers')).toContain('authorization');
    const evil = await preflight('http://evil.example');
    expect(evil.headers.get('access-control-allow-origin')).toBeNull();
  });
});
