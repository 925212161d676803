import { randomBytes } from 'node:crypto';
import { chat, createKey, eventually, testStack } from '@keygate/testing';

// GET /metrics of each service, in Prometheus text, after real traffic through the stack (which runs with no
// OTEL_* variable set: metrics do not depend on tracing).
const scrape = async (baseUrl: string): Promise<{ contentType: string | null; text: string }> => {
  const res = await fetch(`${baseUrl}/metrics`);
  expect(res.status).toBe(200);
  return { contentType: res.headers.get('content-type'), text: await res.text() };
};

// The sum over every series of `name` whose labels include all of `labels`; undefined when there is none.
const total = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  let sum: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const seriesLabels = Object.fromEntries(
      [...(m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, v]) => seriesLabels[k] === v)) sum = (sum ?? 0) + Number(m[4]);
  }
  return sum;
};

describe('observability: /metrics after traffic', () => {
  const stack = testStack();

  it('exposes request, auth, rate-limit, upstream, projection, outbox, buffer and ingest metrics', async () => {
    // One request per minute: the second chat completion is rejected by the rate limiter.
    const key = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { rateLimit: { requestsPerMinute: 1 } },
    });
    const body = {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: `count me ${randomBytes(4).toString('hex')}` }],
    };
    expect((await chat(stack.gatewayUrl, key.key, body)).status).toBe(200);
    expect((await chat(stack.gatewayUrl, key.key, body)).status).toBe(429);

    const gateway = await eventually(
      () => scrape(stack.gatewayUrl),
      ({ text }) => (total(text, 'keygate_usage_events_sent_total') ?? 0) > 0,
    );
    expect(gateway.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const g = gateway.text;
    const chatRoute = { method: 'POST', route: '/v1/chat/completions' };
    expect(
      total(g, 'keygate_http_request_duration_seconds_count', { ...chatRoute, status: '200' }),
    ).toBeGreaterThan(0);
    expect(
      total(g, 'keygate_http_request_duration_seconds_count', { ...chatRoute, status: '429' }),
    ).toBeGreaterThan(0);
    expect(
      total(g, 'keygate_http_request_duration_seconds_bucket', { ...chatRoute, le: '+Inf' }),
    ).toBeGreaterThan(0);
    expect(total(g, 'keygate_gateway_requests_total', { endpoint: 'chat', status: '200' })).toBeGreaterThan(
      0,
    );
    expect(total(g, 'keygate_gateway_requests_total', { endpoint: 'chat', status: '429' })).toBeGreaterThan(
      0,
    );
    // One request histogram (keygate_http_request_duration_seconds, above), not a second one by endpoint.
    expect(g).not.toContain('keygate_gateway_request_duration_seconds');
    // Cache hit ratio = cache / (cache + redis).
    expect(total(g, 'keygate_auth_lookups_total', { source: 'redis' })).toBeGreaterThan(0);
    expect(total(g, 'keygate_auth_lookups_total', { source: 'cache' })).toBeGreaterThan(0);
    expect(total(g, 'keygate_ratelimit_rejections_total')).toBeGreaterThan(0);
    expect(total(g, 'keygate_upstream_latency_seconds_count')).toBeGreaterThan(0);
    expect(g).toMatch(/^keygate_upstream_latency_seconds_count\{provider="[\w-]+",outcome="ok"\} [1-9]/m);
    expect(total(g, 'keygate_projection_events_total', { result: 'applied' })).toBeGreaterThan(0);
    expect(total(g, 'keygate_projection_lag_seconds')).toBeGreaterThan(0);
    expect(total(g, 'keygate_usage_buffer_depth')).toBeGreaterThanOrEqual(0);
    // Runtime and process metrics, as prom-client's defaults gave before.
    expect(total(g, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    expect(total(g, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(total(g, 'nodejs_eventloop_delay_p99')).toBeGreaterThan(0);
    expect(g).toMatch(/^target_info\{[^}]*service_name="gateway"/m);

    const keys = (await scrape(stack.keyServiceUrl)).text;
    expect(total(keys, 'keygate_outbox_publish_lag_seconds_count')).toBeGreaterThan(0);
    expect(total(keys, 'keygate_outbox_pending')).toBeGreaterThanOrEqual(0);
    expect(
      total(keys, 'keygate_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/v1/keys',
        status: '201',
      }),
    ).toBeGreaterThan(0);

    const usage = await eventually(
      async () => (await scrape(stack.usageServiceUrl)).text,
      (t) => (total(t, 'keygate_usage_ingested_total', { result: 'new' }) ?? 0) > 0,
    );
    expect(total(usage, 'keygate_usage_ingest_lag_seconds')).toBeGreaterThan(0);

    // Labels carry route templates, never raw URLs with ids, and never a key.
    for (const text of [g, keys, usage]) {
      expect(text).not.toContain(key.key);
      expect(text).not.toMatch(/route="[^"]*(key|grp)_[0-9A-Za-z]/);
    }
  });
});
