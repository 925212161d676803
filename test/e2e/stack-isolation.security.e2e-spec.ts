import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { NAMESPACE } from '@keygate/contracts';
import {
  api,
  createKey,
  eventually,
  freeTestPort,
  ROOT,
  STACK_DIR,
  testStack,
  type TestStack,
} from '@keygate/testing';
import { dropDatabase } from '@keygate/stack';

// A developer's `npm run up` stack and `npm test` share the machine's broker, Redis and PostgreSQL. This file starts
// a stack of its own the way `npm run up` does (scripts/stack.ts, in another namespace, Redis db and databases),
// then works the test stack hard — keys, groups, an admin token, chat completions, a revocation — and checks that
// the up stack folded none of it: its key directory, admin tokens, ledger and Redis hold only what it made, and
// the test's keys are unknown to its gateway.
const PG = 'postgres://postgres@127.0.0.1:5432';
const run = randomBytes(4).toString('hex');
const upDir = join(STACK_DIR, `isolation-${run}`);
const upNamespace = `up-${run}.`;

const chat = (gatewayUrl: string, key: string) =>
  fetch(`${gatewayUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
  });

const stackScript = (command: 'up' | 'down', env: Record<string, string>): Promise<number> =>
  new Promise((resolve, reject) => {
    const args = [
      join(ROOT, 'dist', 'scripts', 'stack.js'),
      command,
      ...(command === 'up' ? ['--detach'] : []),
    ];
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: 'inherit',
    });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });

describe('a test run and a running stack share nothing that carries state', () => {
  const tests = testStack();
  let up: TestStack;
  let upEnv: Record<string, string>;
  let redis: Redis;

  const count = async (url: string, sql: string): Promise<number> => {
    const pg = new Client({ connectionString: url });
    await pg.connect();
    try {
      return Number((await pg.query<{ n: string }>(sql)).rows[0].n);
    } finally {
      await pg.end();
    }
  };
  // What the up stack holds: every row a leak would add to, and its Redis db.
  const holdings = async () => ({
    keys: await count(up.keysDatabaseUrl, 'SELECT count(*) n FROM api_keys'),
    adminTokens: await count(up.keysDatabaseUrl, 'SELECT count(*) n FROM admin_tokens'),
    lastUsed: await count(up.keysDatabaseUrl, 'SELECT count(*) n FROM key_last_used'),
    directory: await count(up.usageDatabaseUrl, 'SELECT count(*) n FROM key_directory'),
    groupDirectory: await count(up.usageDatabaseUrl, 'SELECT count(*) n FROM group_directory'),
    usageAdminTokens: await count(up.usageDatabaseUrl, 'SELECT count(*) n FROM admin_tokens'),
    ledger: await count(up.usageDatabaseUrl, 'SELECT count(*) n FROM usage_requests'),
    redisKeys: await redis.dbsize(),
  });

  beforeAll(async () => {
    const [keys, grpc, gateway, usage] = [
      await freeTestPort(),
      await freeTestPort(),
      await freeTestPort(),
      await freeTestPort(),
    ];
    up = {
      ...tests,
      adminToken: `kgadm_${randomBytes(24).toString('base64url')}`,
      keyServiceUrl: `http://127.0.0.1:${keys}`,
      grpcUrl: `127.0.0.1:${grpc}`,
      gatewayUrl: `http://127.0.0.1:${gateway}`,
      usageServiceUrl: `http://127.0.0.1:${usage}`,
      redisUrl: 'redis://127.0.0.1:6379/5',
      keysDatabaseUrl: `${PG}/keygate_keys_isolation_${run}`,
      usageDatabaseUrl: `${PG}/keygate_usage_isolation_${run}`,
      pids: [],
    };
    upEnv = {
      KEYGATE_STACK_DIR: upDir,
      KAFKA_TOPIC_PREFIX: upNamespace,
      ADMIN_TOKEN: up.adminToken,
      KEYGATE_MASTER_KEY: randomBytes(32).toString('base64'),
      KEY_SERVICE_HTTP_PORT: String(keys),
      KEY_SERVICE_GRPC_PORT: String(grpc),
      GATEWAY_PORT: String(gateway),
      USAGE_SERVICE_PORT: String(usage),
      KEYS_DATABASE_URL: up.keysDatabaseUrl,
      USAGE_DATABASE_URL: up.usageDatabaseUrl,
      REDIS_URL: up.redisUrl,
      // Both stacks answer from the test's mock provider (a loopback listener).
      OPENAI_BASE_URL: `${tests.mockUrl}/v1`,
      AZURE_OPENAI_ENDPOINT: tests.mockUrl,
      GEMINI_BASE_URL: tests.mockUrl,
      OPENAI_API_KEY: 'mock-openai',
      AZURE_OPENAI_API_KEY: 'mock-azure',
      GEMINI_API_KEY: 'mock-gemini',
      ALLOW_PRIVATE_UPSTREAMS: 'true',
      LOG_LEVEL: 'info',
    };
    redis = new Redis(up.redisUrl, { lazyConnect: true });
    await redis.connect();
    await redis.flushdb();
    expect(await stackScript('up', upEnv)).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await stackScript('down', upEnv);
    await redis.flushdb();
    redis.disconnect();
    await Promise.all([dropDatabase(up.keysDatabaseUrl), dropDatabase(up.usageDatabaseUrl)]).catch(
      () => undefined,
    );
    rmSync(upDir, { recursive: true, force: true });
  }, 60_000);

  it('runs the test stack in its own namespace', () => {
    expect(NAMESPACE).toBe('test.');
    expect(tests.env.KAFKA_TOPIC_PREFIX).toBe('test.');
  });

  it("folds none of the test run's keys, admin tokens, usage or notices, and keeps serving its own", async () => {
    // The up stack's own key works on its own gateway (so "unknown" below means unknown, not broken).
    const own = await createKey(up, { routes: ['gpt-4o-mini'] });
    expect((await chat(up.gatewayUrl, own.key)).status).toBe(200);
    const admin = api(up.usageServiceUrl, up.adminToken);
    await eventually(
      () => count(up.usageDatabaseUrl, 'SELECT count(*) n FROM usage_requests'),
      (n) => n === 1,
    );
    const before = await holdings();

    // Listen on both stacks' change channels (pub/sub is global across Redis databases).
    const listener = new Redis(tests.redisUrl);
    const heard = { tests: 0, up: 0 };
    listener.on('smessage', (channel: string) => {
      if (channel.startsWith(NAMESPACE)) heard.tests += 1;
      if (channel.startsWith(upNamespace)) heard.up += 1;
    });
    await listener.ssubscribe(`${NAMESPACE}{kg:p3}:changed`);
    await listener.ssubscribe(`${upNamespace}{kg:p3}:changed`);

    // The test run: keys with groups, an admin token, chat completions, a revocation.
    const testAdmin = api(tests.keyServiceUrl, tests.adminToken);
    const token = await testAdmin<{ token: string }>('POST', '/v1/admin-tokens', {
      name: `iso-${run}`,
      role: 'admin',
    });
    expect(token.status).toBe(201);
    const made = [
      await createKey(tests, { routes: ['gpt-4o-mini'] }),
      await createKey(tests, { routes: ['gpt-4o-mini'] }),
    ];
    for (const k of made)
      for (let i = 0; i < 3; i++) expect((await chat(tests.gatewayUrl, k.key)).status).toBe(200);
    expect(
      (await testAdmin('POST', `/v1/keys/${made[1].id}/revoke`, { reason: 'isolation test' })).status,
    ).toBe(200);
    expect((await chat(tests.gatewayUrl, made[1].key)).status).toBe(401);

    // Wait until the test stack's own consumers have folded all of it: had the up stack shared its topics,
    // it would have folded it by then too.
    await eventually(
      () =>
        count(
          tests.usageDatabaseUrl,
          `SELECT count(*) n FROM usage_requests WHERE key_id IN ('${made[0].id}', '${made[1].id}')`,
        ),
      (n) => n >= 6,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await eventually(
      async () => (await api(tests.usageServiceUrl, token.body.token)('GET', '/v1/usage/summary')).status,
      (s) => s === 200,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    await listener.quit();

    expect(heard.tests).toBeGreaterThan(0);
    expect(heard.up).toBe(0);
    expect(await holdings()).toEqual(before);
    for (const k of made) {
      expect(await redis.exists(`{kg:p3}:k:${k.id}`)).toBe(0);
      const res = await chat(up.gatewayUrl, k.key);
      expect(res.status).toBe(401);
    }
    // The test run's admin token is no token to the up stack.
    expect((await api(up.usageServiceUrl, token.body.token)('GET', '/v1/usage/summary')).status).toBe(401);
    expect((await admin('GET', '/v1/usage/summary')).status).toBe(200);
  }, 180_000);
});
