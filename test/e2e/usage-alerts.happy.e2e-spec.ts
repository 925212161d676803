import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { api, eventually, testStack } from '@keygate/testing';
import { verifySignature } from '../../apps/usage-service/src/webhooks/webhook-signature';
import { startUsageInstance, type UsageInstance } from './support/usage-instance';

const WINDOW_SECONDS = 3;

// A leaked key in action: steady traffic through the gateway, then a burst. usage-service must raise a request-rate
// spike against the key's own baseline within 30 s and deliver it, signed, to a webhook receiver.
describe('anomaly alerts end to end: burst → spike alert → signed webhook', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  const secret = `whsec-e2e-${run}-${randomBytes(8).toString('hex')}`;
  const received: { headers: IncomingHttpHeaders; body: string; at: number }[] = [];
  let receiver: Server;
  let receiverUrl: string;
  let own: UsageInstance;

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body, at: Date.now() });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/keygate-alerts`;
    // Test-sized windows; the production defaults (60 s windows, 10 of warm-up) would take 10 minutes.
    own = await startUsageInstance(stack, {
      ANOMALY_WINDOW_SECONDS: String(WINDOW_SECONDS),
      ANOMALY_WARMUP_WINDOWS: '3',
      ANOMALY_MIN_REQUESTS: '20',
      ANOMALY_Z_THRESHOLD: '4',
    });
  }, 90_000);

  afterAll(async () => {
    receiver?.close();
    await own?.stop();
  }, 30_000);

  it('raises a request spike within 30 s of the burst and delivers it to the webhook, signed', async () => {
    const usage = api(own.url, stack.adminToken);
    const hook = await usage<{ id: string }>('POST', '/v1/webhooks', {
      url: receiverUrl,
      secret,
      types: ['request_spike'],
    });
    expect(hook.status).toBe(201);
    const group = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `alerts-${run}`,
      routes: ['gpt-4o-mini'],
    });
    const key = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
      name: `leaky ${run}`,
      ownerId: 'team-alerts',
      groupIds: [group.body.id],
    });
    const client = new OpenAI({ apiKey: key.body.key, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });
    const call = () =>
      client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    await eventually(
      () =>
        call().then(
          () => true,
          () => false,
        ),
      (ok) => ok,
    );

    // Baseline: about one request a second for five windows.
    const baselineUntil = Date.now() + 5 * WINDOW_SECONDS * 1000;
    while (Date.now() < baselineUntil) {
      await call();
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect((await usage<{ data: unknown[] }>('GET', `/v1/alerts?keyId=${key.body.id}`)).body.data).toEqual(
      [],
    );

    const burstStart = Date.now();
    await Promise.all(Array.from({ length: 120 }, () => call()));
    const [alert] = await eventually(
      async () =>
        (
          await usage<{
            data: { id: string; type: string; raisedAt: string; details: Record<string, number> }[];
          }>('GET', `/v1/alerts?keyId=${key.body.id}&type=request_spike`)
        ).body.data,
      (a) => a.length > 0,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const alertSeenMs = Date.now() - burstStart;
    const alertRaisedMs = Date.parse(alert.raisedAt) - burstStart;
    expect(alertRaisedMs).toBeLessThan(30_000);
    expect(alert.details.observed).toBeGreaterThanOrEqual(20);

    const delivery = await eventually(
      async () => received.find((r) => JSON.parse(r.body).data?.alertId === alert.id),
      (r) => r !== undefined,
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    const webhookMs = delivery!.at - burstStart;
    expect(webhookMs).toBeLessThan(30_000);
    expect(
      verifySignature(
        secret,
        delivery!.headers['x-keygate-signature'] as string,
        delivery!.body,
        Math.floor(Date.now() / 1000),
      ),
    ).toBe(true);
    expect(JSON.parse(delivery!.body)).toMatchObject({
      type: 'AlertRaised',
      subject: key.body.id,
      data: { alertId: alert.id, keyId: key.body.id, type: 'request_spike' },
    });
    process.stdout.write(
      `[usage alerts] burst of 120 requests → alert raised after ${alertRaisedMs} ms, visible in the API after ` +
        `${alertSeenMs} ms, signed webhook received after ${webhookMs} ms (z = ${alert.details.zScore.toFixed(1)}, ` +
        `baseline ${alert.details.baselineMean.toFixed(1)} per ${WINDOW_SECONDS} s)\n`,
    );
  }, 120_000);
});
