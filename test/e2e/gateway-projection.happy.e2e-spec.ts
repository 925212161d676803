import { spawn } from 'node:child_process';
import { Topics } from '@keygate/contracts';
import {
  api,
  chat,
  createKey,
  eventually,
  freeTestPort,
  privateRedis,
  skipHistory,
  startService,
  testStack,
  type PrivateRedis,
  type RunningService,
} from '@keygate/testing';

// A gateway with its own Redis (persistent, so it can be stopped and started) and its own projection group:
// the projection rebuilt from the topic, and the documented behaviour while Redis is away.
describe('gateway projection and Redis outage', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  let redis: PrivateRedis;
  let gateway: RunningService;
  let url: string;

  beforeAll(async () => {
    redis = await privateRedis();
    const port = await freeTestPort();
    url = `http://127.0.0.1:${port}`;
    await skipHistory([[`gateway-projection-outage-${port}`, Topics.keysEvents]]);
    gateway = await startService(
      stack,
      'gateway',
      {
        GATEWAY_PORT: String(port),
        REDIS_URL: redis.url,
        GATEWAY_PROJECTION_GROUP: `gateway-projection-outage-${port}`,
        AUTH_CACHE_TTL_MS: '200',
        AUTH_STALE_SERVE_MS: '4000',
      },
      `${url}/health/ready`,
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await redis?.destroy();
  });

  it('rebuilds the projection from the topic after a wipe', async () => {
    const { key } = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    await eventually(
      () => chat(url, key, body).then((r) => r.status),
      (s) => s === 200,
    );
    const rebuild = spawn(
      process.execPath,
      ['dist/apps/gateway/src/key-projection/rebuild-projection.js', '--wipe'],
      {
        env: { ...process.env, ...stack.env, REDIS_URL: redis.url },
      },
    );
    let out = '';
    rebuild.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((r) => rebuild.once('exit', r));
    expect(code).toBe(0);
    expect(out).toMatch(/wiped \d+ projection documents/);
    expect(out).toMatch(/applied \d+ events/);
    expect((await chat(url, key, body)).status).toBe(200);
  });

  it('keeps revoked keys out, fails unknown keys closed and serves cached keys for a bounded time while Redis is down', async () => {
    const known = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    const revoked = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    const unseen = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    await eventually(
      () => chat(url, known.key, body).then((r) => r.status),
      (s) => s === 200,
    );
    await eventually(
      () => chat(url, revoked.key, body).then((r) => r.status),
      (s) => s === 200,
    );
    await admin('POST', `/v1/keys/${revoked.id}/revoke`, { reason: 'leak' });
    await eventually(
      () => chat(url, revoked.key, body).then((r) => r.status),
      (s) => s === 401,
    );
    await eventually(
      () => chat(url, unseen.key, body).then((r) => r.status),
      (s) => s === 200,
      { timeoutMs: 20000 },
    );

    // Confirmed just before the outage: its stale window (4 s) counts from its last confirmation, and the waits
    // above can take longer than that on a loaded machine.
    expect((await chat(url, known.key, body)).status).toBe(200);
    await redis.stop('SIGKILL');
    const outageStarted = Date.now();
    const during = async (key: string) => {
      const started = Date.now();
      const res = await chat(url, key, body);
      return {
        status: res.status,
        code: ((await res.json()) as { error?: { code: string } }).error?.code,
        ms: Date.now() - started,
      };
    };
    expect(await during(known.key)).toMatchObject({ status: 200 });
    expect(await during(revoked.key)).toMatchObject({ status: 401, code: 'key_revoked' });
    const stranger = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    const failClosed = await during(stranger.key);
    expect(failClosed).toMatchObject({ status: 503, code: 'auth_unavailable' });
    expect(failClosed.ms).toBeLessThan(2000); // no request hangs on a missing Redis
    // Past the stale window a cached key is no longer vouched for.
    await new Promise((r) => setTimeout(r, Math.max(0, 4200 - (Date.now() - outageStarted))));
    expect(await during(known.key)).toMatchObject({ status: 503, code: 'auth_unavailable' });

    await redis.start();
    // Full recovery without restarting the gateway, including the key created during the outage.
    await eventually(
      () => chat(url, known.key, body).then((r) => r.status),
      (s) => s === 200,
      { timeoutMs: 20000 },
    );
    await eventually(
      () => chat(url, stranger.key, body).then((r) => r.status),
      (s) => s === 200,
      { timeoutMs: 30000 },
    );
    expect((await chat(url, revoked.key, body)).status).toBe(401);
  });

  it('replays the projection by itself when Redis comes back empty', async () => {
    const { key } = await createKey(stack, { routes: ['gpt-4o-mini'], waitForGateway: false });
    await eventually(
      () => chat(url, key, body).then((r) => r.status),
      (s) => s === 200,
    );
    const flush = spawn('redis-cli', ['-p', String(redis.port), 'FLUSHALL']);
    await new Promise((r) => flush.once('exit', r));
    // Unknown-to-Redis keys fail closed while the replay runs, then the key is served again.
    await eventually(
      () => chat(url, key, body).then((r) => r.status),
      (s) => s === 200,
      { timeoutMs: 30000 },
    );
  });
});
