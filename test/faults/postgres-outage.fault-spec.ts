import { Topics } from '@keygate/contracts';
import {
  eventually,
  type MockProvider,
  type PrivateRedis,
  privateRedis,
  startMockProvider,
  waitForGateway,
} from '@keygate/testing';
import { outboxDepth, projectionGaps, readModelGaps, sql } from './support/consistency';
import { buildFaultStack, startGroupsAtEnd, steadyBrokers, type FaultStack } from './support/fault-stack';
import { createGroup, createKeyOnce, log, loop, sleep, type CreateResult } from './support/load';
import { startPrivatePostgres, type PrivatePostgres } from './support/private-infra';

const SHARED_PG = 'postgres://postgres@127.0.0.1:5432';
const OUTAGE_MS = 10_000;

interface RevokeResult {
  id: string;
  at: number;
  ms: number;
  status: number;
  code: string | null;
}

// The key-service's database is a private PostgreSQL cluster, stopped under a steady stream of writes. While it
// is down every write answers 503 DEPENDENCY_UNAVAILABLE; nothing is accepted half-way (an event without its read
// model row, or without its publication); when it is back the same process serves again.
describe('PostgreSQL outage (key-service)', () => {
  let mock: MockProvider | undefined;
  let pg: PrivatePostgres | undefined;
  let redis: PrivateRedis | undefined;
  let stack: FaultStack;
  let groupId: string;

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0, maxRecorded: 0 });
    [pg, redis] = await Promise.all([startPrivatePostgres(), privateRedis()]);
    stack = await buildFaultStack({
      kafkaBrokers: steadyBrokers(),
      redisUrl: redis.url,
      postgresServer: pg.server,
      usagePostgresServer: SHARED_PG,
      mockUrl: mock.url,
    });
    await startGroupsAtEnd(steadyBrokers(), [[stack.env.GATEWAY_PROJECTION_GROUP, Topics.keysEvents]]);
    await Promise.all([stack.start('key-service'), stack.start('gateway')]);
    groupId = await createGroup(stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.destroy().catch(() => undefined);
    await pg?.destroy().catch(() => undefined);
    await redis?.destroy().catch(() => undefined);
    await mock?.close().catch(() => undefined);
  }, 60_000);

  it('answers 503 DEPENDENCY_UNAVAILABLE while PostgreSQL is down, accepts nothing half-way, and recovers', async () => {
    const headers = { authorization: `Bearer ${stack.adminToken}`, 'content-type': 'application/json' };
    const revocable: string[] = [];
    const creates = loop<CreateResult>(
      async () => {
        const r = await createKeyOnce(stack, groupId, 10_000);
        if (r.status === 201 && r.id && Math.random() < 0.3) revocable.push(r.id);
        return r;
      },
      { concurrency: 2, pauseMs: 100 },
    );
    const revokes = loop<RevokeResult | null>(
      async () => {
        const id = revocable.shift();
        if (!id) return sleep(100).then(() => null);
        const at = Date.now();
        const res = await fetch(`${stack.keyServiceUrl}/v1/keys/${id}/revoke`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ reason: 'fault suite' }),
          signal: AbortSignal.timeout(10_000),
        }).catch(() => null);
        const body = (await res?.json().catch(() => ({}))) as { error?: { code?: string } } | undefined;
        return { id, at, ms: Date.now() - at, status: res?.status ?? 0, code: body?.error?.code ?? null };
      },
      { pauseMs: 200 },
    );
    // The timeline; the load stops whatever happens, so a failure cannot leave requests running.
    const timeline = async () => {
      await sleep(4_000);
      log('stopping the private PostgreSQL');
      const stopping = Date.now();
      await pg!.stop('fast');
      const down = Date.now();
      await sleep(1_000);
      const readyDuring = await fetch(stack.readyUrl('key-service'));
      const readyBody = await readyDuring.text();
      const getDuring = await fetch(`${stack.keyServiceUrl}/v1/keys?limit=5`, { headers });
      const getBody = (await getDuring.json()) as {
        error?: { code?: string; message?: string; requestId?: string };
      };
      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
      log('starting the private PostgreSQL');
      const starting = Date.now();
      await pg!.start();
      const up = Date.now();
      const firstOk = await eventually(
        () => createKeyOnce(stack, groupId),
        (r) => r.status === 201,
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      log(`first 201 ${((firstOk.at + firstOk.ms - up) / 1000).toFixed(1)} s after PostgreSQL was back`);
      await sleep(3_000);
      return { stopping, down, starting, up, firstOk, readyDuring, readyBody, getDuring, getBody };
    };
    let t: Awaited<ReturnType<typeof timeline>>;
    try {
      t = await timeline();
    } finally {
      await Promise.all([creates.stop(), revokes.stop()]);
    }
    const { stopping, down, starting, up, readyDuring, readyBody, getDuring, getBody } = t;
    const made = [...creates.results, t.firstOk];
    const revoked = revokes.results.filter((r): r is RevokeResult => r !== null);

    // While it was down: a clear 503, quickly, for every write and read.
    const inOutage = (r: { at: number }) => r.at >= down && r.at + 0 < starting;
    const outageCreates = made.filter(inOutage);
    log(`creates: ${made.length} (${outageCreates.length} during the outage); revokes: ${revoked.length}`);
    expect(outageCreates.length).toBeGreaterThan(5);
    for (const r of outageCreates) {
      expect({ status: r.status, code: r.code }).toEqual({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
      expect(r.message).toMatch(/unavailable/i);
      expect(r.ms).toBeLessThan(5_000);
    }
    for (const r of revoked.filter(inOutage))
      expect({ status: r.status, code: r.code }).toEqual({ status: 503, code: 'DEPENDENCY_UNAVAILABLE' });
    expect(getDuring.status).toBe(503);
    expect(getBody.error).toMatchObject({ code: 'DEPENDENCY_UNAVAILABLE', requestId: expect.any(String) });
    expect(readyDuring.status).toBe(503);
    expect(readyBody).toContain('postgres');
    // Around the stop and the start too, the only failure a client ever saw is that 503.
    for (const r of made) expect([201, 503]).toContain(r.status);
    for (const r of revoked) expect([200, 503]).toContain(r.status);
    for (const r of made.filter((m) => m.status === 503)) expect(r.code).toBe('DEPENDENCY_UNAVAILABLE');
    // Writes before and after were taken.
    expect(made.filter((r) => r.at < stopping && r.status === 201).length).toBeGreaterThan(3);
    expect(made.filter((r) => r.at > up && r.status === 201).length).toBeGreaterThan(3);

    // Nothing half-way: every 201 is in the store with its read-model row, every 200 revoke too; a create that
    // was answered 503 is either wholly there (its commit raced the stop) or not at all.
    const rows = await sql<{ id: string; name: string; status: string }>(
      stack.keysDatabaseUrl,
      'SELECT id, name, status FROM api_keys',
    );
    const createdEvents = await sql<{ stream_id: string; name: string }>(
      stack.keysDatabaseUrl,
      `SELECT stream_id, data->>'name' AS name FROM events WHERE type = 'KeyCreated'`,
    );
    const rowByName = new Map(rows.map((r) => [r.name, r]));
    const eventByName = new Map(createdEvents.map((e) => [e.name, e.stream_id]));
    for (const r of made.filter((m) => m.status === 201)) {
      expect(rowByName.get(r.name)?.id).toBe(r.id);
      expect(eventByName.get(r.name)).toBe(r.id);
    }
    for (const r of made.filter((m) => m.status !== 201))
      expect(rowByName.get(r.name)?.id).toBe(eventByName.get(r.name));
    const statusById = new Map(rows.map((r) => [r.id, r.status]));
    for (const r of revoked.filter((x) => x.status === 200)) expect(statusById.get(r.id)).toBe('revoked');
    expect(await readModelGaps(stack.keysDatabaseUrl)).toEqual([]);

    // ...and every stored event was published: the outbox drains and the gateway's projection matches the store.
    await eventually(
      () => outboxDepth(stack.keysDatabaseUrl),
      (n) => n === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 500,
      },
    );
    const gaps = await eventually(
      () => projectionGaps(stack.keysDatabaseUrl, stack.redisUrl),
      (g) => g.length === 0,
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(gaps).toEqual([]);
    const live = made.filter((m) => m.status === 201 && statusById.get(m.id!) === 'active').slice(-5);
    await Promise.all(live.map((m) => waitForGateway(stack.gatewayUrl, m.key!, 30_000)));

    // The same process recovered: ready again.
    expect((await fetch(stack.readyUrl('key-service'))).status).toBe(200);
  }, 120_000);
});
