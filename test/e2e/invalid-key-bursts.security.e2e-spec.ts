import { randomBytes, randomInt } from 'node:crypto';
import { Client } from 'pg';
import { generateApiKey } from '@keygate/contracts';
import { api, chat, createKey, eventually, testStack, waitForGateway } from '@keygate/testing';
import { startGateways, type GatewayInstances } from './support/gateway-instances';
import { startUsageInstance, type UsageInstance } from './support/usage-instance';

interface Alert {
  subject: string;
  type: string;
  keyId: string | null;
  message: string;
  details: { network: string; failures: number; windowSeconds: number; clientIps: string[] };
}

const sum = (text: string, metric: string, labels = ''): number =>
  text
    .split('\n')
    .filter((l) => l.startsWith(metric) && l.includes(labels))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);

// Key-guessing from one client network: 200 invalid keys (well-formed unknown ones and malformed strings) through two
// gateways behind a trusted proxy → one invalid_key_burst alert naming the network, and with the cool-down on, that
// network is refused (429) on both instances while another network and the proxy itself are served.
describe('invalid-key bursts', () => {
  const stack = testStack();
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  // Networks of this run's own: the cool-down counters live in the Redis every test run shares.
  const x = randomInt(256);
  const guesser = `100.64.${x}.7`;
  const neighbour = `100.64.${x}.99`;
  const elsewhere = `100.65.${x}.7`;
  const network = `100.64.${x}.0/24`;
  let gateways: GatewayInstances | undefined;
  let urls: string[];
  let usage: UsageInstance;

  beforeAll(async () => {
    // The test's requests come from 127.0.0.1, trusted as a proxy: X-Forwarded-For names the client.
    [usage, gateways] = await Promise.all([
      startUsageInstance(stack),
      startGateways(stack, 2, {
        TRUSTED_PROXIES: '127.0.0.1/32',
        INVALID_KEY_COOLDOWN_SECONDS: '120',
        INVALID_KEY_COOLDOWN_FAILURES: '200',
        INVALID_KEY_COOLDOWN_WINDOW_SECONDS: '60',
      }),
    ]);
    urls = gateways.urls;
  }, 90_000);

  afterAll(async () => {
    await Promise.all([gateways?.stop(), usage?.stop()]);
  }, 30_000);

  it('raises one alert naming the network and, with the cool-down on, refuses that network on every instance', async () => {
    const { key } = await createKey(stack, { routes: ['gpt-4o-mini'] });
    await Promise.all(urls.map((u) => waitForGateway(u, key)));

    const guesses = Array.from({ length: 200 }, (_, i) =>
      i % 3 === 0 ? `kg_live_${randomBytes(24).toString('base64url')}` : generateApiKey('live'),
    );
    const statuses: number[] = [];
    for (let i = 0; i < guesses.length; i += 20)
      statuses.push(
        ...(await Promise.all(
          guesses
            .slice(i, i + 20)
            .map((g, j) =>
              chat(urls[(i + j) % 2], g, body, { 'x-forwarded-for': guesser }).then((r) => r.status),
            ),
        )),
      );
    expect(statuses.every((s) => s === 401)).toBe(true);

    // The network is refused on both instances, whatever key it presents, even a valid one.
    for (const url of urls) {
      const refused = await eventually(
        () => chat(url, key, body, { 'x-forwarded-for': neighbour }),
        (r) => r.status === 429,
        { timeoutMs: 5_000, intervalMs: 50 },
      );
      const error = ((await refused.json()) as { error: { code: string; type: string } }).error;
      expect(error).toMatchObject({ code: 'invalid_key_cooldown', type: 'rate_limit_exceeded' });
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(100);
      expect(retryAfter).toBeLessThanOrEqual(120);
      // Another network, and the trusted proxy itself, are served.
      expect((await chat(url, key, body, { 'x-forwarded-for': elsewhere })).status).toBe(200);
      expect((await chat(url, key, body)).status).toBe(200);
    }

    // One alert for the burst, naming the network, on the usage-service.
    const alerts = () =>
      api(usage.url, stack.adminToken)<{ data: Alert[] }>('GET', '/v1/alerts?type=invalid_key_burst').then(
        (r) => r.body.data.filter((a) => a.subject === `net:${network}`),
      );
    const [alert] = await eventually(alerts, (a) => a.length > 0, { timeoutMs: 30_000, intervalMs: 250 });
    expect(alert).toMatchObject({ type: 'invalid_key_burst', keyId: null, details: { network } });
    expect(alert.details.failures).toBeGreaterThanOrEqual(20);
    expect(alert.details.clientIps).toEqual([guesser]);
    expect(alert.message).toContain(network);

    // Every guess and both refusals reached the ledger with their network, and the burst is still one alert.
    const ledger = new Client({ connectionString: usage.databaseUrl });
    await ledger.connect();
    try {
      const counts = () =>
        ledger
          .query<{ error_code: string; n: number }>(
            `SELECT error_code, count(*)::int AS n FROM usage_requests WHERE client_network = $1 GROUP BY 1`,
            [network],
          )
          .then((r) => Object.fromEntries(r.rows.map((row) => [row.error_code, row.n])));
      await eventually(counts, (c) => c.invalid_api_key === 200 && c.invalid_key_cooldown === 2, {
        timeoutMs: 30_000,
        intervalMs: 250,
      });
    } finally {
      await ledger.end();
    }
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await alerts()).toHaveLength(1);

    const metrics = await Promise.all(urls.map((u) => fetch(`${u}/metrics`).then((r) => r.text())));
    expect(metrics.reduce((n, m) => n + sum(m, 'keygate_gateway_network_cooldowns_total'), 0)).toBe(1);
    expect(
      metrics.reduce((n, m) => n + sum(m, 'keygate_gateway_invalid_keys_total', 'code="invalid_api_key"'), 0),
    ).toBe(200);
    expect(metrics.reduce((n, m) => n + sum(m, 'keygate_gateway_cooldown_refusals_total'), 0)).toBe(2);
  });
});
