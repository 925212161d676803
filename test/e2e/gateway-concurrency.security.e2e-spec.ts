import { startMockProvider, type MockProvider } from '../../libs/testing/src/mock-provider/mock-provider';
import { api, chat, createKey, testStack, waitForGateway } from '@keygate/testing';
import { startGateways, type GatewayInstances } from './support/gateway-instances';

// A key's cap on requests in flight (rateLimit.maxConcurrentRequests) holds across gateway instances: a lease per
// admitted request in Redis, returned when the request ends, however it ends. The provider here is a mock of this
// file's own that answers after 200 ms and counts how many requests it has open at once.
describe('concurrency cap per key, across two gateways', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
  let mock: MockProvider;
  let gateways: GatewayInstances | undefined;
  let urls: string[];

  beforeAll(async () => {
    mock = await startMockProvider({ port: 0, latencyMs: 200 });
    gateways = await startGateways(stack, 2, { OPENAI_BASE_URL: `${mock.url}/v1` });
    urls = gateways.urls;
  }, 90_000);

  afterAll(async () => {
    await gateways?.stop();
    await mock?.close();
  }, 30_000);

  it('never has more than maxConcurrentRequests upstream at once; the rest are 429 concurrency_limit_exceeded', async () => {
    const { id, key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { rateLimit: { maxConcurrentRequests: 3 } },
    });
    await Promise.all(urls.map((u) => waitForGateway(u, key)));
    mock.reset();

    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => chat(urls[i % 2], key, body)));
    const statuses = answers.map((r) => r.status);
    expect(mock.peakInFlight).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(3);
    expect(statuses.filter((s) => s === 200).length + statuses.filter((s) => s === 429).length).toBe(20);
    const refused = answers.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('1');
    const error = ((await refused.json()) as { error: { code: string; type: string; message: string } })
      .error;
    expect(error).toMatchObject({ code: 'concurrency_limit_exceeded', type: 'rate_limit_exceeded' });
    expect(error.message).toContain('3 requests in flight');

    // Every lease came back: three at once are served again, on either instance.
    mock.reset();
    const again = await Promise.all([0, 1, 2].map((i) => chat(urls[i % 2], key, body)));
    expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(mock.peakInFlight).toBe(3);

    // A stream the client abandons returns its lease too.
    mock.setChunkDelay(300);
    const streams = [0, 1, 2].map(() => new AbortController());
    const opened = await Promise.all(
      streams.map((ac, i) =>
        fetch(`${urls[i % 2]}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ ...body, stream: true }),
          signal: ac.signal,
        }),
      ),
    );
    expect(opened.map((r) => r.status)).toEqual([200, 200, 200]);
    expect((await chat(urls[0], key, body)).status).toBe(429);
    streams.forEach((ac) => ac.abort());
    mock.setChunkDelay(0);
    await new Promise((r) => setTimeout(r, 500));
    expect((await chat(urls[1], key, body)).status).toBe(200);

    // The cap is part of the key's restrictions, validated like the rest.
    const bad = await admin<{ error: { code: string } }>('PATCH', `/v1/keys/${id}`, {
      rateLimit: { maxConcurrentRequests: 0 },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('VALIDATION_FAILED');
  });

  // A client that waits for each answer never meets its own cap, whichever gateway its next request reaches: the
  // settlement that gives the lease back is written to Redis before the answer's last bytes (proxy.service.ts).
  // JSON answers, streams read only up to their [DONE] (the next request leaves at once, before the stream's end)
  // and upstream errors, one after another, alternating the two gateways; the provider answers at once.
  it('admits one request after another at a cap of 1, alternating gateways, whatever ended the last one', async () => {
    const { key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { rateLimit: { maxConcurrentRequests: 1 } },
    });
    await Promise.all(urls.map((u) => waitForGateway(u, key)));
    mock.setLatency(0);
    const statuses: number[] = [];
    const rests: Array<Promise<unknown>> = [];
    try {
      for (let i = 0; i < 30; i++) {
        const url = urls[i % 2];
        if (i % 3 === 0) {
          statuses.push((await chat(url, key, body)).status);
        } else if (i % 3 === 1) {
          const res = await chat(url, key, { ...body, stream: true });
          statuses.push(res.status);
          const reader = res.body!.getReader();
          const decoder = new TextDecoder();
          let text = '';
          while (!text.includes('data: [DONE]')) {
            const { value, done } = await reader.read();
            if (done) break;
            text += decoder.decode(value, { stream: true });
          }
          expect(`${i} ${text}`).toContain('data: [DONE]');
          // The rest (the stream's end) is read on the side, while the next request is already on its way.
          rests.push(
            (async () => {
              while (!(await reader.read()).done) continue;
            })(),
          );
        } else {
          mock.failNext(1, 400);
          statuses.push((await chat(url, key, body)).status);
        }
      }
    } finally {
      mock.reset();
      await Promise.allSettled(rests);
    }
    expect(statuses).toEqual(Array.from({ length: 30 }, (_, i) => (i % 3 === 2 ? 400 : 200)));
  });
});
