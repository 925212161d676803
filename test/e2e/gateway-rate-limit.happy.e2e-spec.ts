import {
  api,
  chat,
  createKey,
  eventually,
  freeTestPort,
  startService,
  testStack,
  type RunningService,
} from '@keygate/testing';

// Two gateway instances share the Redis limiter and the projection, as a horizontally scaled deployment does.
describe('gateway across two instances', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello there' }] };
  let second: RunningService;
  let secondUrl: string;

  beforeAll(async () => {
    const port = await freeTestPort();
    secondUrl = `http://127.0.0.1:${port}`;
    second = await startService(
      stack,
      'gateway',
      { GATEWAY_PORT: String(port) },
      `${secondUrl}/health/ready`,
    );
  });

  afterAll(async () => {
    await second?.stop();
  });

  it('never admits more than the per-minute request limit over 500 concurrent requests', async () => {
    const limit = 50;
    const { key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { rateLimit: { requestsPerMinute: limit } },
    });
    await eventually(
      () => chat(secondUrl, key, body).then((r) => r.status),
      (s) => s !== 401,
    );
    const responses = await Promise.all(
      Array.from({ length: 500 }, (_, i) => chat(i % 2 ? secondUrl : stack.gatewayUrl, key, body)),
    );
    const admitted = responses.filter((r) => r.status === 200);
    const limited = responses.filter((r) => r.status === 429);
    // The warm-up call above took one slot of the limit.
    expect(admitted.length).toBeLessThanOrEqual(limit - 1);
    expect(admitted.length).toBeGreaterThan(limit - 5);
    // Any other answer is named with its code, so a failure says what it was.
    const others = await Promise.all(
      responses
        .filter((r) => r.status !== 200 && r.status !== 429)
        .map(async (r) => `${r.status} ${await r.text()}`),
    );
    expect(others).toEqual([]);
    const sample = limited[0];
    expect(Number(sample.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(sample.headers.get('x-ratelimit-limit-requests')).toBe(String(limit));
    expect(sample.headers.get('x-ratelimit-remaining-requests')).toBe('0');
    expect(((await sample.json()) as { error: { code: string } }).error.code).toBe('rate_limit_exceeded');
    expect(admitted[0].headers.get('x-ratelimit-limit-requests')).toBe(String(limit));
  });

  it('applies a named tier and a tokens-per-minute limit charged with the real usage', async () => {
    const { key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { rateLimit: { tier: 'free', tokensPerMinute: 20 } },
    });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await chat(stack.gatewayUrl, key, body);
      statuses.push(res.status);
      if (res.status === 429) {
        expect(res.headers.get('x-ratelimit-remaining-tokens')).toBe('0');
        expect(res.headers.get('x-ratelimit-limit-requests')).toBe('60');
        break;
      }
      await new Promise((r) => setTimeout(r, 50)); // token charges are written after the answer
    }
    expect(statuses[0]).toBe(200);
    expect(statuses).toContain(429);
  });

  it('limits one route on top of the key: gpt-4o 3 a minute across both instances, gpt-4o-mini still open', async () => {
    const { key } = await createKey(stack, {
      routes: ['gpt-4o-mini', 'gpt-4o'],
      key: { rateLimit: { requestsPerMinute: 100, routes: { 'gpt-4o': { requestsPerMinute: 3 } } } },
    });
    const big = { ...body, model: 'gpt-4o' };
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) => chat(i % 2 ? secondUrl : stack.gatewayUrl, key, big)),
    );
    const statuses = answers.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(9);
    const refused = answers.find((r) => r.status === 429)!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const error = ((await refused.json()) as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('rate_limit_exceeded');
    expect(error.message).toContain('requests to gpt-4o on this API key (3 requests per minute)');
    // The key's other route is not held back by it.
    expect((await chat(secondUrl, key, body)).status).toBe(200);
  });

  it('stops a revoked key on every instance', async () => {
    const { id, key } = await createKey(stack, { routes: ['gpt-4o-mini'] });
    await eventually(
      () => chat(secondUrl, key, body).then((r) => r.status),
      (s) => s === 200,
    );
    expect((await chat(stack.gatewayUrl, key, body)).status).toBe(200); // both instances have it cached now
    const revokedAt = Date.now();
    expect((await admin('POST', `/v1/keys/${id}/revoke`, { reason: 'leak' })).status).toBe(200);
    await Promise.all(
      [stack.gatewayUrl, secondUrl].map((url) =>
        eventually(
          () => chat(url, key, body).then((r) => r.status),
          (s) => s === 401,
          { intervalMs: 10 },
        ),
      ),
    );
    expect(Date.now() - revokedAt).toBeLessThan(5000);
  });
});
