import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import fc from 'fast-check';
import { Client } from 'pg';
import { generateApiKey, Topics } from '@keygate/contracts';
import { dropDatabase, ensurePostgres } from '@keygate/stack';
import {
  freeTestPort,
  skipHistory,
  startMockProvider,
  startService,
  testStack,
  waitForGateway,
  type MockProvider,
  type RunningService,
} from '@keygate/testing';
import { distSettled } from '../faults/support/fault-stack';

// Property-based hostile input against the running services. A private key-service (its own database) and a
// private gateway (its own mock provider) make the accounting exact while other e2e files run beside this one:
// a refused management call adds no event to the audit log, a refused gateway call reaches no provider. Every
// answer is a documented 4xx in the documented shape, never a 5xx, never a stack trace or a secret; neither is any
// log line the services write.

const RUNS = 100;
// Management errors (DESIGN.md; 413/415 are the HTTP layer's body limit and media type).
const MANAGEMENT_4XX = [400, 401, 403, 404, 409, 412, 413, 415, 422];
const GATEWAY_4XX = [400, 401, 403, 404, 413, 415];
// A stack frame, raw or JSON-escaped: "\n    at fn (file.js:1:2)".
const STACK_FRAME = /(\n|\\n)\s+at \S.*:\d+:\d+/;

interface Answer {
  status: number;
  text: string;
  json: unknown;
}

describe('hostile input', () => {
  const stack = testStack();
  const run = randomBytes(4).toString('hex');
  const keysDb = stack.keysDatabaseUrl.replace(/[^/]+$/, `keygate_keys_hostile_${run}`);
  const secrets = new Set<string>([stack.adminToken]);
  const services: RunningService[] = [];
  let mock: MockProvider;
  let keysUrl: string;
  let gatewayUrl: string;
  let db: Client;
  let key: { id: string; key: string }; // the gateway tests' key: never changed by the management tests
  let victim: { id: string; key: string }; // PATCH and rotate may legitimately change this one
  let groupId: string;

  // node:http rather than fetch: a server may answer 413 and close the socket while a huge body is still being
  // uploaded; like a browser, take the answer if one arrived and ignore the reset of the upload.
  const send = (
    base: string,
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const req = request(`${base}${path}`, {
        method,
        headers: {
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
          ...headers,
        },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            /* checked by the callers */
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      });
      req.on('error', (e) => {
        if (!answered) reject(e);
      });
      req.end(body);
    });
  const admin = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    send(
      keysUrl,
      method,
      path,
      body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      { authorization: `Bearer ${stack.adminToken}`, ...headers },
    );
  const events = async (): Promise<number> =>
    Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM events')).rows[0].n);

  const expectClean = (a: Answer) => {
    if (STACK_FRAME.test(a.text)) throw new Error(`stack trace in a response: ${a.text.slice(0, 300)}`);
    for (const s of secrets) if (a.text.includes(s)) throw new Error('a secret appeared in a response');
  };
  // A refused management call: documented status and shape. A 2xx is only allowed where the input may be valid.
  const expectManagementAnswer = (a: Answer, mayPass: boolean) => {
    expectClean(a);
    if (a.status < 400 && mayPass) return;
    if (!MANAGEMENT_4XX.includes(a.status))
      throw new Error(`undocumented status ${a.status}: ${a.text.slice(0, 300)}`);
    const error = (a.json as { error?: Record<string, unknown> } | null)?.error;
    expect(error).toMatchObject({
      code: expect.any(String),
      message: expect.any(String),
      requestId: expect.any(String),
    });
  };
  // Runs one management call and checks the audit log moved only if it was accepted.
  const management = async (
    method: string,
    path: string,
    body: unknown,
    { mayPass = true, headers = {} as Record<string, string> } = {},
  ): Promise<Answer> => {
    const before = await events();
    const a = await admin(method, path, body, headers);
    expectManagementAnswer(a, mayPass);
    if (a.status >= 400) expect(await events()).toBe(before);
    if (a.status < 300) {
      const created = a.json as { key?: string; token?: string };
      if (created.key) secrets.add(created.key);
      if (created.token) secrets.add(created.token);
    }
    return a;
  };

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0 });
    const [keysPort, grpcPort, gatewayPort] = [
      await freeTestPort(),
      await freeTestPort(),
      await freeTestPort(),
    ];
    keysUrl = `http://127.0.0.1:${keysPort}`;
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    await ensurePostgres([keysDb], () => undefined);
    const projectionGroup = `gateway-projection-hostile-${run}`;
    await skipHistory([[projectionGroup, Topics.keysEvents]]);
    await distSettled(); // dist/ is shared: never start from a build another engineer is half-way through
    services.push(
      ...(await Promise.all([
        startService(
          stack,
          'key-service',
          {
            KEY_SERVICE_HTTP_PORT: String(keysPort),
            KEY_SERVICE_GRPC_PORT: String(grpcPort),
            KEYS_DATABASE_URL: keysDb,
          },
          `${keysUrl}/health/ready`,
        ),
        startService(
          stack,
          'gateway',
          {
            GATEWAY_PORT: String(gatewayPort),
            GATEWAY_PROJECTION_GROUP: projectionGroup,
            OPENAI_BASE_URL: `${mock.url}/v1`,
            AZURE_OPENAI_ENDPOINT: mock.url,
            GEMINI_BASE_URL: mock.url,
          },
          `${gatewayUrl}/health/ready`,
        ),
      ])),
    );
    db = new Client({ connectionString: keysDb });
    await db.connect();

    const group = await admin('POST', '/v1/groups', { name: `hostile-${run}`, routes: ['gpt-4o-mini'] });
    groupId = (group.json as { id: string }).id;
    const created = await admin('POST', '/v1/keys', {
      name: 'hostile',
      ownerId: 'team-hostile',
      groupIds: [groupId],
    });
    key = created.json as { id: string; key: string };
    secrets.add(key.key);
    victim = (await admin('POST', '/v1/keys', { name: 'victim', ownerId: 'team-hostile' }))
      .json as typeof key;
    secrets.add(victim.key);
    const providerSecret = `sk-hostile-${randomBytes(12).toString('hex')}`;
    secrets.add(providerSecret);
    expect(
      (await admin('POST', '/v1/providers', { name: `prv-${run}`, type: 'openai', secret: providerSecret }))
        .status,
    ).toBe(201);
    const token = await admin('POST', '/v1/admin-tokens', { name: `hostile-${run}`, role: 'auditor' });
    secrets.add((token.json as { token: string }).token);
    await waitForGateway(gatewayUrl, key.key, 30_000);
  }, 90_000);

  afterAll(async () => {
    await db?.end().catch(() => undefined);
    for (const s of services) await s.stop().catch(() => undefined);
    await dropDatabase(keysDb).catch(() => undefined);
    await mock?.close().catch(() => undefined);
  });

  // ---- arbitraries ----
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }), // lone surrogates, NUL, control characters
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.constantFrom(
      '',
      ' ',
      '\u0000',
      '\u202e',
      '𝕜𝕖𝕪',
      'null',
      '../../etc/passwd',
      "'; DROP TABLE events;--",
    ),
  );
  const notAString = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.array(fc.jsonValue(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue(), { maxKeys: 3 }),
  );
  const huge = fc
    .tuple(fc.integer({ min: 129, max: 400_000 }), fc.constantFrom('x', 'é', '😀', '\u0000'))
    .map(([n, c]) => c.repeat(n));
  const anyValue = fc.oneof(text, notAString, huge, fc.constant(null), fc.jsonValue());
  const unknownField = fc.stringMatching(/^[a-z][a-zA-Z0-9_]{0,20}$/);
  // Replaces one field of a valid body (or adds an unknown one): the shapes a careless or hostile client sends.
  const mutate = (valid: Record<string, unknown>, fields: string[]) =>
    fc.oneof(
      fc
        .tuple(fc.constantFrom(...fields), anyValue)
        .map(([f, v]) => ({ body: { ...valid, [f]: v }, unknown: false })),
      fc
        .tuple(unknownField, fc.jsonValue())
        .filter(([f]) => !fields.includes(f))
        .map(([f, v]) => ({ body: { ...valid, [f]: v }, unknown: true })),
    );
  const cidrLike = fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.ipV4Extended(),
    fc.tuple(fc.ipV4(), fc.integer({ min: -1, max: 40 })).map(([a, p]) => `${a}/${p}`),
    fc.tuple(fc.ipV6(), fc.integer({ min: -1, max: 140 })).map(([a, p]) => `${a}/${p}`),
    fc.constantFrom(
      '0.0.0.0/0',
      '::/0',
      '10.0.0.1/8',
      '010.0.0.0/8',
      '10.1/16',
      '10.0.0.0/08',
      '10.0.0.0//8',
      '10.0.0.0/8/8',
      ' 10.0.0.0/8 ',
      'fe80::1%eth0',
      '::ffff:10.0.0.0/104',
      '::ffff:10.0.0.0/95',
      '255.255.255.255/32',
      '256.0.0.0/8',
      '1.2.3.4/+8',
      '1.2.3.4/0x8',
      '',
    ),
    text,
  );

  // ---- management API ----
  it('refuses any JSON value as a management body with a documented 4xx and no event', async () => {
    const targets: [string, string][] = [
      ['POST', '/v1/keys'],
      ['POST', '/v1/groups'],
      ['POST', '/v1/providers'],
      ['POST', '/v1/admin-tokens'],
      ['PATCH', `/v1/keys/${victim.id}`],
      ['PATCH', `/v1/groups/${groupId}`],
    ];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...targets), fc.jsonValue(), async ([method, path], body) => {
        // PATCH with {} or valid fields is a legitimate (possibly empty) change.
        await management(method, path, body, { mayPass: method === 'PATCH' });
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses malformed JSON, wrong media types and oversized bodies', async () => {
    const raw = fc.oneof(
      fc.string().filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      }),
      fc.constantFrom(
        '{"name": "x",',
        '{"name": "\\ud800", "ownerId": "\\u0000"}',
        '{"__proto__": {"admin": true}}',
        '{"constructor": {"prototype": {"admin": true}}}',
        '{'.repeat(5000),
        `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
        `{"name":"x","ownerId":"y","metadata":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
      ),
      fc
        .integer({ min: 300_000, max: 2_000_000 })
        .map((n) => JSON.stringify({ name: 'x'.repeat(n), ownerId: 'o' })),
    );
    await fc.assert(
      fc.asyncProperty(
        raw,
        fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
        async (body, type) => {
          await management('POST', '/v1/keys', body, { mayPass: false, headers: { 'content-type': type } });
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('answers a body over the limit with its 413, never a reset connection, however fast it is uploaded', async () => {
    // 256 KiB is the management limit: the server drains the upload before it answers, so the client reads the 413.
    for (const n of [300_000, 1_000_000, 4_000_000]) {
      const a = await management(
        'POST',
        '/v1/providers',
        { name: '😀'.repeat(n), type: 'openai', secret: 'sk-x' },
        {
          mayPass: false,
        },
      );
      expect(a.status).toBe(413);
      expect((a.json as { error: { code: string } }).error.code).toBe('PAYLOAD_TOO_LARGE');
    }
  });

  it('refuses wrong types, unknown fields, huge and odd strings in keys, groups, providers and admin tokens', async () => {
    const cases = fc.oneof(
      mutate({ name: 'k', ownerId: 'o', groupIds: [groupId] }, [
        'name',
        'ownerId',
        'description',
        'environment',
        'groupIds',
        'metadata',
        'expiresAt',
        'ipAllow',
        'ipDeny',
        'rateLimit',
        'budget',
        'rotationPeriodDays',
      ]).map((c) => ({ ...c, method: 'POST', path: '/v1/keys' })),
      mutate({ name: 'k2' }, [
        'name',
        'description',
        'metadata',
        'expiresAt',
        'rateLimit',
        'budget',
        'ipAllow',
      ]).map((c) => ({ ...c, method: 'PATCH', path: `/v1/keys/${victim.id}` })),
      mutate({ name: 'g', routes: ['gpt-4o-mini'] }, ['name', 'description', 'routes']).map((c) => ({
        ...c,
        method: 'POST',
        path: '/v1/groups',
      })),
      mutate({ name: 'p', type: 'openai', secret: 'sk-abcdefgh' }, [
        'name',
        'type',
        'secret',
        'settings',
      ]).map((c) => ({ ...c, method: 'POST', path: '/v1/providers' })),
      mutate({ name: 't', role: 'auditor' }, ['name', 'role']).map((c) => ({
        ...c,
        method: 'POST',
        path: '/v1/admin-tokens',
      })),
      mutate({ gracePeriodSeconds: 10 }, ['gracePeriodSeconds']).map((c) => ({
        ...c,
        method: 'POST',
        path: `/v1/keys/${victim.id}/rotate`,
      })),
    );
    await fc.assert(
      fc.asyncProperty(cases, async (c) => {
        const a = await management(c.method, c.path, c.body, { mayPass: !c.unknown });
        if (c.unknown) expect(a.status).toBe(400);
      }),
      { numRuns: 2 * RUNS },
    );
  });

  it('accepts only canonical CIDR ranges in IP lists and refuses the rest with 422 INVALID_CIDR or 400', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(cidrLike, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('ipAllow', 'ipDeny'),
        async (ranges, field) => {
          const a = await management('POST', '/v1/keys', {
            name: 'cidr',
            ownerId: 'team-hostile',
            [field]: ranges,
          });
          if (a.status === 201) {
            // Stored in the canonical form the gateway matches: a round trip changes nothing.
            const stored = (a.json as Record<string, string[]>)[field];
            const again = await management('POST', '/v1/keys', {
              name: 'cidr2',
              ownerId: 'team-hostile',
              [field]: stored,
            });
            expect(again.status).toBe(201);
            expect((again.json as Record<string, string[]>)[field]).toEqual(stored);
          } else {
            expect([400, 422]).toContain(a.status);
          }
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('answers path ids, query strings and credentials of any shape with a 4xx', async () => {
    const segment = fc
      .oneof(text, fc.constantFrom('key_', '%00', '..', 'key_' + 'x'.repeat(5000)))
      .map(encodeURIComponent);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          segment.map((s) => ({
            method: 'GET',
            path: `/v1/keys/${s}`,
            token: undefined as string | undefined,
          })),
          segment.map((s) => ({ method: 'PATCH', path: `/v1/keys/${s}`, token: undefined })),
          segment.map((s) => ({ method: 'DELETE', path: `/v1/groups/${s}`, token: undefined })),
          segment.map((s) => ({ method: 'PUT', path: `/v1/keys/${key.id}/groups/${s}`, token: undefined })),
          segment.map((s) => ({ method: 'GET', path: `/v1/keys?cursor=${s}&limit=${s}`, token: undefined })),
          segment.map((s) => ({ method: 'GET', path: `/v1/audit?from=${s}&cursor=${s}`, token: undefined })),
          fc
            .string({
              unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)),
              maxLength: 4000,
            })
            .map((t) => ({ method: 'POST', path: '/v1/keys', token: t })),
        ),
        async (c) => {
          const headers: Record<string, string> =
            c.token === undefined ? {} : { authorization: `Bearer ${c.token}` };
          const body = c.method === 'PATCH' || c.method === 'POST' ? { name: 'x', ownerId: 'y' } : undefined;
          const a = await management(c.method, c.path, body, { mayPass: c.method === 'GET', headers });
          if (c.token !== undefined) expect(a.status).toBe(401);
        },
      ),
      { numRuns: RUNS },
    );
  });

  // ---- gateway ----
  const expectGatewayAnswer = (a: Answer) => {
    expectClean(a);
    if (a.status === 200) return;
    if (!GATEWAY_4XX.includes(a.status))
      throw new Error(`undocumented status ${a.status}: ${a.text.slice(0, 300)}`);
    expect((a.json as { error?: unknown } | null)?.error).toMatchObject({
      message: expect.any(String),
      type: expect.any(String),
      code: expect.any(String),
    });
  };
  // One gateway call; the mock provider is called only for what the gateway answered 200 or relayed.
  const gateway = async (
    method: string,
    path: string,
    body: string | undefined,
    headers: Record<string, string>,
  ) => {
    const before = mock.requests.length;
    const a = await send(gatewayUrl, method, path, body, headers);
    expectGatewayAnswer(a);
    if (a.status !== 200 && a.status !== 400) expect(mock.requests.length).toBe(before);
    return a;
  };

  it('answers keys of every length and alphabet with 401 invalid_api_key, before any upstream call', async () => {
    const valid = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
    const base62 = fc.constantFrom(...'0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz');
    const headerSafe = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
    const keyStrings = () =>
      fc.oneof(
        fc.string({ unit: headerSafe, maxLength: 200 }),
        fc.string({ unit: headerSafe, minLength: 1000, maxLength: 10_000 }),
        fc.string({ unit: base62, minLength: 40, maxLength: 60 }).map((s) => `kg_live_${s}`),
        fc.string({ unit: base62, minLength: 49, maxLength: 49 }).map((s) => `kg_test_${s}`),
        fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => generateApiKey('live', Buffer.from(b))),
        fc.nat({ max: key.key.length - 1 }).map((i) => key.key.slice(0, i)), // every prefix of a real key
        fc.tuple(fc.nat(56), base62).map(([i, c]) => key.key.slice(0, i) + c + key.key.slice(i + 1)),
      );
    await fc.assert(
      fc.asyncProperty(
        keyStrings().filter((k) => k !== key.key),
        fc.constantFrom('authorization', 'api-key', 'x-goog-api-key'),
        fc.constantFrom('/v1/chat/completions', '/v1/embeddings', '/v1/models'),
        async (candidate, header, path) => {
          const value = header === 'authorization' ? `Bearer ${candidate}` : candidate;
          const a = await gateway(
            path === '/v1/models' ? 'GET' : 'POST',
            path,
            path === '/v1/models' ? undefined : JSON.stringify(valid),
            { [header]: value },
          );
          expect(a.status).toBe(401);
          expect((a.json as { error: { code: string } }).error.code).toBe('invalid_api_key');
        },
      ),
      { numRuns: 2 * RUNS },
    );
  });

  it('answers malformed, mistyped and huge request bodies with a documented 4xx', async () => {
    const message = fc.oneof(
      fc.record({ role: fc.constantFrom('user', 'system', 'assistant', 'tool', 'x'), content: anyValue }),
      anyValue,
    );
    const body = fc.oneof(
      fc.string().map((s) => ({ raw: s })),
      fc.jsonValue().map((v) => ({ raw: JSON.stringify(v) })),
      fc
        .record(
          {
            model: fc.oneof(fc.constantFrom('gpt-4o-mini', 'gpt-4o', 'text-embedding-3-small'), anyValue),
            messages: fc.oneof(fc.array(message, { maxLength: 3 }), anyValue),
            input: anyValue,
            stream: anyValue,
            max_tokens: anyValue,
            n: anyValue,
          },
          { requiredKeys: ['model'] },
        )
        .map((v) => ({ raw: JSON.stringify(v) })),
      {
        weight: 1,
        arbitrary: fc.constant({
          raw: JSON.stringify({
            model: 'gpt-4o-mini',
            messages: [{ role: 'user', content: 'x'.repeat(5 << 20) }],
          }),
        }),
      },
      fc
        .constantFrom(
          `${'['.repeat(50_000)}${']'.repeat(50_000)}`,
          `{"model":"gpt-4o-mini","messages":${'['.repeat(20_000)}${']'.repeat(20_000)}}`,
          '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"\\ud800\\u0000"}]}',
        )
        .map((raw) => ({ raw })),
    );
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('/v1/chat/completions', '/v1/embeddings'),
        fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-16'),
        async ({ raw }, path, type) => {
          const a = await gateway('POST', path, raw, {
            authorization: `Bearer ${key.key}`,
            'content-type': type,
          });
          if (raw.length > 4 * 1024 * 1024) expect(a.status).toBe(413);
        },
      ),
      { numRuns: RUNS },
    );
  });

  // ---- logs ----
  it('wrote no stack trace and no secret into any service log', async () => {
    const files = readdirSync(stack.logDir).map((f) => join(stack.logDir, f));
    const mine = new Set(services.map((s) => s.logFile));
    for (const file of files) {
      const content = readFileSync(file, 'utf8');
      for (const s of secrets)
        if (content.includes(s)) throw new Error(`a secret the test created is in ${file}`);
      if (mine.has(file)) {
        const frame = STACK_FRAME.exec(content);
        if (frame)
          throw new Error(
            `stack trace in ${file}: ${content.slice(Math.max(0, frame.index - 300), frame.index + 200)}`,
          );
      }
    }
  });
});
