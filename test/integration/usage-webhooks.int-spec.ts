import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifySignature } from '../../apps/usage-service/src/webhooks/webhook-signature';
import { eventuallyRows, runId, sleep, UsageHarness, usage, type UsageProcess } from './usage-service.helper';

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

// A receiver that answers each request on a path with the next scripted status (the last one repeats).
const receiver = async (script: Record<string, number[]>, location = '') => {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const path = req.url ?? '/';
      hits.push({ path, headers: req.headers, body, at: Date.now() });
      const statuses = script[path] ?? [200];
      const n = hits.filter((h) => h.path === path).length;
      const status = statuses[Math.min(n, statuses.length) - 1];
      res.writeHead(status, status >= 300 && status < 400 ? { location } : {}).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { hits, server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
};

// Webhook delivery against a real receiver: signed bodies, retries with exponential backoff, redirects not
// followed, a delivery log per attempt, type filters, deletion, and a secret that never comes back out.
describe('webhook delivery (real PostgreSQL and Kafka, a test HTTP receiver)', () => {
  let h: UsageHarness;
  let p: UsageProcess;
  const run = runId();
  const secret = `whsec-${run}-0123456789abcdef`;
  const servers: Server[] = [];

  beforeAll(async () => {
    h = await UsageHarness.create('webhooks', {
      ANOMALY_AUTH_FAILURES: '5',
      WEBHOOK_BACKOFF_BASE_MS: '300',
      WEBHOOK_MAX_ATTEMPTS: '3',
    });
    p = await h.start();
  }, 90_000);

  afterAll(async () => {
    for (const s of servers) s.close();
    await h?.close();
  }, 60_000);

  it('delivers a signed alert, retrying with backoff, without following a redirect, and logs every attempt', async () => {
    const elsewhere = await receiver({});
    const hooks = await receiver({ '/flaky': [500, 302, 200], '/down': [503] }, `${elsewhere.url}/stolen`);
    servers.push(elsewhere.server, hooks.server);
    const api = h.api(p);
    const create = (path: string, types?: string[]) =>
      api<{ id: string }>('POST', '/v1/webhooks', { url: `${hooks.url}${path}`, secret, types });
    const flaky = await create('/flaky');
    const down = await create('/down', ['auth_failure_burst']);
    const other = await create('/budgets-only', ['budget_threshold']);
    const removed = await create('/removed');
    expect(flaky.status).toBe(201);
    expect(JSON.stringify([flaky.body, down.body, other.body])).not.toContain(secret);
    expect((await api('DELETE', `/v1/webhooks/${removed.body.id}`)).status).toBe(204);
    expect((await api('DELETE', `/v1/webhooks/${removed.body.id}`)).status).toBe(404);
    const listed = await api<{ data: { id: string }[] }>('GET', '/v1/webhooks');
    expect(listed.body.data.map((w) => w.id).sort()).toEqual(
      [flaky.body.id, down.body.id, other.body.id].sort(),
    );
    expect(JSON.stringify(listed.body)).not.toContain(secret);

    const keyId = `key_wh${run}`;
    await h.produceUsage(
      // From six different IPs: one alert (the key's burst), not a second one for the IP.
      Array.from({ length: 6 }, (_, i) =>
        usage({
          keyId,
          clientIp: `198.18.${i}.1`,
          status: 401,
          outcome: 'rejected',
          errorCode: 'key_revoked',
          route: null,
          provider: null,
          upstreamModel: null,
        }),
      ),
    );
    const flakyHits = await eventuallyRows(
      async () => hooks.hits.filter((x) => x.path === '/flaky'),
      (x) => x.length === 3,
      30_000,
      '3 attempts',
    );
    await sleep(1500); // nothing more should arrive
    expect(hooks.hits.filter((x) => x.path === '/flaky')).toHaveLength(3);
    expect(hooks.hits.filter((x) => x.path === '/budgets-only' || x.path === '/removed')).toEqual([]);
    expect(elsewhere.hits).toEqual([]); // the 302 was not followed

    const now = Math.floor(Date.now() / 1000);
    for (const hit of flakyHits) {
      expect(hit.headers['content-type']).toBe('application/json');
      expect(verifySignature(secret, hit.headers['x-keygate-signature'] as string, hit.body, now)).toBe(true);
      expect(
        verifySignature(
          'another-secret-entirely',
          hit.headers['x-keygate-signature'] as string,
          hit.body,
          now,
        ),
      ).toBe(false);
    }
    // The same delivery, byte for byte, on every attempt; spaced by a growing backoff (300 ms, then 600 ms, ±20%).
    expect(new Set(flakyHits.map((x) => x.body)).size).toBe(1);
    expect(new Set(flakyHits.map((x) => x.headers['x-keygate-delivery'])).size).toBe(1);
    expect(flakyHits[1].at - flakyHits[0].at).toBeGreaterThanOrEqual(230);
    expect(flakyHits[2].at - flakyHits[1].at).toBeGreaterThanOrEqual(470);
    const body = JSON.parse(flakyHits[0].body);
    expect(body).toMatchObject({
      type: 'AlertRaised',
      source: 'usage-service',
      subject: keyId,
      data: { type: 'auth_failure_burst', keyId },
    });

    const log = await api<{
      data: {
        alertId: string;
        status: string;
        attempts: { attempt: number; statusCode: number; error: string | null }[];
      }[];
    }>('GET', `/v1/webhooks/${flaky.body.id}/deliveries`);
    expect(log.body.data).toHaveLength(1);
    expect(log.body.data[0]).toMatchObject({ alertId: body.data.alertId, status: 'delivered' });
    expect(log.body.data[0].attempts.map((a) => [a.attempt, a.statusCode, a.error])).toEqual([
      [1, 500, 'HTTP 5xx'],
      [2, 302, 'redirect not followed'],
      [3, 200, null],
    ]);
    // A receiver that never recovers: given up after WEBHOOK_MAX_ATTEMPTS.
    const failed = await eventuallyRows(
      async () =>
        (
          await api<{ data: { status: string; attempts: unknown[] }[] }>(
            'GET',
            `/v1/webhooks/${down.body.id}/deliveries`,
          )
        ).body.data,
      (d) => d[0]?.status === 'failed',
    );
    expect(failed[0].attempts).toHaveLength(3);
  });

  it('stores the secret encrypted and never logs it', async () => {
    const rows = await h.query<{ secret_ciphertext: string }>(`SELECT secret_ciphertext FROM webhooks`);
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) expect(r.secret_ciphertext).not.toContain(secret);
    for (const proc of [p]) expect(readFileSync(proc.logFile, 'utf8')).not.toContain(secret);
  });
});
