import {
  api,
  chat,
  eventually,
  freeTestPort,
  startService,
  testStack,
  waitForGateway,
  type RunningService,
} from '@keygate/testing';

// What an admin does to a key holds at every gateway instance at once, and keeps holding: rotations never revive
// an older secret, a revocation is never undone by a racing cache fill, names from a client are data.
describe('key state across two gateway instances', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  let second: RunningService;
  let gateways: string[];
  let groupId: string;

  beforeAll(async () => {
    const port = await freeTestPort();
    // The same deployment: same Redis, same projection consumer group (Kafka splits the partitions between them).
    second = await startService(
      stack,
      'gateway',
      { GATEWAY_PORT: String(port) },
      `http://127.0.0.1:${port}/health/ready`,
    );
    gateways = [stack.gatewayUrl, `http://127.0.0.1:${port}`];
    const group = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `key-state-${port}`,
      routes: ['gpt-4o-mini'],
    });
    groupId = group.body.id;
  });

  afterAll(async () => {
    await second?.stop();
  });

  const newKey = async (extra: Record<string, unknown> = {}) => {
    const res = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
      name: 'key-state',
      ownerId: 'team-test',
      groupIds: [groupId],
      ...extra,
    });
    expect(res.status).toBe(201);
    return res.body;
  };
  const rotate = async (id: string, gracePeriodSeconds: number) => {
    const res = await admin<{ key: string }>('POST', `/v1/keys/${id}/rotate`, { gracePeriodSeconds });
    expect(res.status).toBe(201);
    return res.body.key;
  };
  const statuses = (secrets: string[]) =>
    Promise.all(gateways.map((g) => Promise.all(secrets.map((s) => chat(g, s, body).then((r) => r.status)))));

  it('rotating three times with mixed grace periods: only the newest and the previous (until its instant) work, on both', async () => {
    const { id, key: s1 } = await newKey();
    for (const g of gateways) await waitForGateway(g, s1);
    const s2 = await rotate(id, 604_800);
    await eventually(
      () => statuses([s1, s2]),
      (all) => all.every((row) => row.join() === '200,200'),
    );
    // A leak is suspected: rotate again with no grace. S1 must not come back with S2's departure.
    const s3 = await rotate(id, 0);
    await eventually(
      () => statuses([s1, s2, s3]),
      (all) => all.every((row) => row.join() === '401,401,200'),
    );
    // A planned rotation with grace: S3 keeps working, S4 joins; a fourth rotation ends S3 at once.
    const s4 = await rotate(id, 3600);
    await eventually(
      () => statuses([s1, s2, s3, s4]),
      (all) => all.every((row) => row.join() === '401,401,200,200'),
    );
    const s5 = await rotate(id, 3600);
    const final = await eventually(
      () => statuses([s1, s2, s3, s4, s5]),
      (all) => all.every((row) => row.join() === '401,401,401,200,200'),
    );
    expect(final).toEqual([
      [401, 401, 401, 200, 200],
      [401, 401, 401, 200, 200],
    ]);
  });

  it('500 revocations under load: once an instance answered 401 for a key, it never admits a request sent after', async () => {
    const keys = 500;
    const wave = 25;
    const violations: string[] = [];
    let revoked = 0;
    for (let start = 0; start < keys; start += wave) {
      const batch = await Promise.all(Array.from({ length: Math.min(wave, keys - start) }, () => newKey()));
      await Promise.all(batch.map((k) => Promise.all(gateways.map((g) => waitForGateway(g, k.key)))));
      await Promise.all(
        batch.map(async ({ id, key }) => {
          const log: { gw: number; sent: number; recv: number; status: number }[] = [];
          let stop = false;
          // Two connections per instance, each sending as fast as it is answered.
          const loops = [0, 0, 1, 1].map(async (gw) => {
            while (!stop) {
              const sent = performance.now();
              // A connection the loaded machine dropped is no answer (status 0), neither 200 nor 401.
              const status = await chat(gateways[gw], key, body).then(
                async (res) => (await res.arrayBuffer(), res.status),
                () => 0,
              );
              log.push({ gw, sent, recv: performance.now(), status });
            }
          });
          const seen = (gw: number, status: number, after = 0) =>
            log.filter((e) => e.gw === gw && e.status === status && e.sent >= after).length;
          await eventually(
            async () => seen(0, 200) > 0 && seen(1, 200) > 0,
            (ok) => ok,
            { intervalMs: 5, timeoutMs: 60_000 },
          );
          expect((await admin('POST', `/v1/keys/${id}/revoke`, { reason: 'leaked' })).status).toBe(200);
          const answered = performance.now();
          await eventually(
            async () => seen(0, 401, answered) >= 3 && seen(1, 401, answered) >= 3,
            (ok) => ok,
            { intervalMs: 5, timeoutMs: 60_000 },
          );
          stop = true;
          await Promise.all(loops);
          revoked++;
          for (const gw of [0, 1]) {
            const first401 = Math.min(
              ...log.filter((e) => e.gw === gw && e.status === 401).map((e) => e.recv),
            );
            const after = log.filter((e) => e.gw === gw && e.status === 200 && e.sent > first401);
            if (after.length)
              violations.push(`${id} on gateway ${gw}: ${after.length} × 200 after its first 401`);
          }
        }),
      );
    }
    expect(revoked).toBe(keys);
    expect(violations).toEqual([]);
  }, 600_000);

  it('a suspended key is refused with a code, never with the admin’s reason', async () => {
    const { id, key } = await newKey();
    await waitForGateway(stack.gatewayUrl, key);
    expect(
      (await admin('POST', `/v1/keys/${id}/suspend`, { reason: 'ex-employee, ticket 4411' })).status,
    ).toBe(200);
    const res = await eventually(
      () => chat(stack.gatewayUrl, key, body),
      (r) => r.status !== 200,
    );
    const text = await res.text();
    expect(res.status).toBe(403);
    expect(JSON.parse(text).error.code).toBe('key_suspended');
    expect(text).not.toContain('4411');
  });

  it.each(['constructor', '__proto__', 'toString', 'no-such-tier'])(
    'a rate-limit tier named %s is refused at create and update, never stored as unlimited',
    async (tier) => {
      const created = await admin('POST', '/v1/keys', { name: 'tier', ownerId: 'o', rateLimit: { tier } });
      expect(created.status).toBeGreaterThanOrEqual(400);
      expect(created.status).toBeLessThan(500);
      const { id } = await newKey();
      const patched = await admin('PATCH', `/v1/keys/${id}`, { rateLimit: { tier } });
      expect(patched.status).toBeGreaterThanOrEqual(400);
      expect(patched.status).toBeLessThan(500);
    },
  );

  it.each(['constructor', '__proto__', 'hasOwnProperty'])(
    'a model named %s is a missing model, not a 500',
    async (model) => {
      const { key } = await newKey();
      await waitForGateway(stack.gatewayUrl, key);
      const res = await chat(stack.gatewayUrl, key, { ...body, model });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('model_not_found');
    },
  );
});
