import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { Topics } from '@keygate/contracts';
import { api, chat, createKey, eventually, testStack } from '@keygate/testing';
import { KAFKA_BROKERS } from '@keygate/testing/stack/test-stack';
import { keyServiceGrpc } from './support/key-service-grpc.client';

// DESIGN.md § Secrets: a key, admin token or provider credential in clear exists only in the response that
// created it (and in the gateway's memory for an upstream call). This test makes every kind of secret the
// key-service hands out, uses some of them, then greps the three places a leak would persist: a real pg_dump of
// the key-service database, every message published on keys.events meanwhile, and the debug-level logs of all
// three services. Positive controls (hashes in the dump and on the topic, ids in the logs) keep it honest.

interface RawMessage {
  key: string;
  value: string;
  headers: string;
}

// Every message published on keys.events from now on, raw (value and headers as text).
const tailRaw = async (run: string) => {
  const kafka = new Kafka({ clientId: `secrets-${run}`, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING });
  const groupId = `e2e-secrets-${run}`;
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(Topics.keysEvents);
  await admin.setOffsets({
    groupId,
    topic: Topics.keysEvents,
    partitions: ends.map((p) => ({ partition: p.partition, offset: p.offset })),
  });
  const messages: RawMessage[] = [];
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [Topics.keysEvents] });
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push({
        key: message.key?.toString('utf8') ?? '',
        value: message.value?.toString('utf8') ?? '',
        headers: Object.entries(message.headers ?? {})
          .map(([k, v]) => `${k}=${String(v)}`)
          .join('\n'),
      });
    },
  });
  return {
    messages,
    stop: async () => {
      await consumer.disconnect();
      await admin.deleteGroups([groupId]).catch(() => undefined);
      await admin.disconnect();
    },
  };
};

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
// The part of a key that is secret: all but the `kg_<env>_` prefix (the masked form shows the last 4 only).
const secretBody = (key: string) => key.replace(/^kg_(live|test)_/, '');

describe('key-service secrets never persist in clear', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  let tail: Awaited<ReturnType<typeof tailRaw>>;

  beforeAll(async () => {
    tail = await tailRaw(run);
  });
  afterAll(async () => {
    await tail?.stop();
  });

  it('keeps every plaintext out of pg_dump, keys.events and the debug logs', async () => {
    expect(['debug', 'trace']).toContain(stack.env.LOG_LEVEL); // otherwise the log check proves little

    // Keys: both environments, over REST and gRPC, one used at the gateway, one rotated with a grace period.
    const used = await createKey(stack, { routes: ['gpt-4o-mini'], key: { ownerId: `secrets-${run}` } });
    const completion = await eventually(
      () =>
        chat(stack.gatewayUrl, used.key, {
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
        }),
      (r) => r.status === 200,
    );
    await completion.text();
    const testKey = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
      name: 'secrets test env',
      ownerId: `secrets-${run}`,
      environment: 'test',
      metadata: { purpose: 'leak check' },
    });
    expect(testKey.status).toBe(201);
    const rotated = await admin<{ id: string; key: string }>('POST', `/v1/keys/${testKey.body.id}/rotate`, {
      gracePeriodSeconds: 300,
    });
    expect(rotated.status).toBe(201);
    const grpc = keyServiceGrpc(stack.grpcUrl, stack.adminToken);
    let grpcKey: { id: string; secret: string };
    try {
      const created = await grpc.call('CreateKey', { name: 'secrets grpc', owner_id: `secrets-${run}` });
      grpcKey = { id: created.key.id, secret: created.secret };
    } finally {
      grpc.close();
    }
    const keys = [
      { id: used.id, key: used.key },
      { id: testKey.body.id, key: testKey.body.key },
      { id: rotated.body.id, key: rotated.body.key },
      { id: grpcKey.id, key: grpcKey.secret },
    ];

    // Admin tokens (an admin one is used for a call), and a provider credential, added then rotated.
    const tokens: { id: string; token: string }[] = [];
    for (const role of ['admin', 'auditor'] as const) {
      const res = await admin<{ id: string; token: string }>('POST', '/v1/admin-tokens', {
        name: `secrets-${role}-${run}`,
        role,
      });
      expect(res.status).toBe(201);
      tokens.push(res.body);
    }
    expect((await api(stack.keyServiceUrl, tokens[0].token)('GET', `/v1/keys/${used.id}`)).status).toBe(200);

    const credentials: string[] = [];
    const aggregates = [...keys.map((k) => k.id), ...tokens.map((t) => t.id)];
    const firstSecret = `sk-secrets-${randomBytes(20).toString('hex')}`;
    const provider = await admin<{ id: string }>('POST', '/v1/providers', {
      name: `secrets-${run}`,
      type: 'openai',
      secret: firstSecret,
      settings: { baseUrl: `${stack.mockUrl}/v1` },
    });
    if (provider.status === 404) {
      process.stdout.write('POST /v1/providers answers 404: provider credentials not checked\n');
    } else {
      expect(provider.status).toBe(201);
      const secondSecret = `sk-secrets-${randomBytes(20).toString('hex')}`;
      const rotation = await admin('POST', `/v1/providers/${provider.body.id}/rotate`, {
        secret: secondSecret,
      });
      expect(rotation.status).toBe(200);
      await admin('POST', `/v1/providers/${provider.body.id}/test`);
      credentials.push(firstSecret, secondSecret);
      aggregates.push(provider.body.id);
    }

    const plaintexts = [
      ...keys.flatMap((k) => [k.key, secretBody(k.key)]),
      ...tokens.map((t) => t.token),
      ...credentials,
      stack.adminToken,
    ];
    const leaks = (where: string, text: string) =>
      plaintexts.filter((p) => text.includes(p)).map((p) => `${where}: …${p.slice(-6)}`);

    // (b) keys.events: every message published since the test began, values and headers.
    await eventually(
      async () => new Set(tail.messages.map((m) => m.key)),
      (seen) => aggregates.every((id) => seen.has(id)),
      { timeoutMs: 30_000 },
    );
    const topicText = tail.messages.map((m) => `${m.key}\n${m.value}\n${m.headers}`).join('\n');
    for (const k of keys) expect(topicText).toContain(sha256(k.key)); // keys travel as hashes

    // (a) pg_dump of the key-service database.
    const db = new URL(stack.keysDatabaseUrl);
    const { stdout: dump } = await promisify(execFile)(
      'pg_dump',
      [
        '-h',
        db.hostname,
        '-p',
        db.port || '5432',
        '-U',
        decodeURIComponent(db.username),
        db.pathname.slice(1),
      ],
      { maxBuffer: 512 * 1024 * 1024 },
    );
    for (const k of keys) expect(dump).toContain(sha256(k.key));
    for (const id of aggregates) expect(dump).toContain(id);

    // (c) the logs of every service of the stack, written at debug level.
    const logFiles = readdirSync(stack.logDir).filter((f) => f.endsWith('.log'));
    const logs = logFiles.map((f) => readFileSync(join(stack.logDir, f), 'utf8')).join('\n');
    expect(logFiles.some((f) => f.startsWith('gateway'))).toBe(true);
    expect(logs).toContain(`/v1/keys/${testKey.body.id}/rotate`);

    expect([...leaks('keys.events', topicText), ...leaks('pg_dump', dump), ...leaks('logs', logs)]).toEqual(
      [],
    );
  }, 120_000);

  it('publishes nothing for writes an auditor token attempts', async () => {
    const issued = await admin<{ id: string; token: string }>('POST', '/v1/admin-tokens', {
      name: `secrets-auditor-writes-${run}`,
      role: 'auditor',
    });
    if (issued.status === 404) return void process.stdout.write('no admin-tokens API: auditor not checked\n');
    const { body: key } = await admin<{ id: string }>('POST', '/v1/keys', {
      name: 'auditor target',
      ownerId: `secrets-${run}`,
    });
    const auditor = api(stack.keyServiceUrl, issued.body.token);
    const attempts: [string, string, unknown?][] = [
      ['POST', '/v1/keys', { name: 'by auditor', ownerId: `secrets-${run}` }],
      ['PATCH', `/v1/keys/${key.id}`, { name: 'by auditor' }],
      ['POST', `/v1/keys/${key.id}/rotate`, {}],
      ['POST', `/v1/keys/${key.id}/revoke`, { reason: 'by auditor' }],
      ['DELETE', `/v1/keys/${key.id}`],
      ['POST', '/v1/admin-tokens', { name: `escalate-${run}`, role: 'admin' }],
    ];
    for (const [method, path, body] of attempts) {
      const res = await auditor<{ error: { code: string } }>(method, path, body);
      expect({ method, path, status: res.status, code: res.body?.error?.code }).toEqual({
        method,
        path,
        status: 403,
        code: 'FORBIDDEN',
      });
    }
    // A write the admin makes afterwards is the next event of the key: the auditor's attempts appended none.
    expect((await admin('PATCH', `/v1/keys/${key.id}`, { name: 'by admin' })).status).toBe(200);
    const types = await eventually(
      async () =>
        tail.messages
          .filter((m) => m.key === key.id)
          .map((m) => (JSON.parse(m.value) as { type: string }).type),
      (ts) => ts.includes('KeyUpdated'),
    );
    expect(types).toEqual(['KeyCreated', 'KeyUpdated']);
  });
});
