import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  api,
  chat,
  createKey,
  eventually,
  expectedChatCompletion,
  freeTestPort,
  KAFKA_BROKERS,
  startService,
  testStack,
  type RunningService,
  type TestStack,
} from '@keygate/testing';
import { dropDatabase, ensurePostgres } from '@keygate/stack';
import { Kafka, logLevel } from 'kafkajs';
import { Topics } from '@keygate/contracts';

// One chat completion, followed through every service with tracing on: our own key-service, gateway and
// usage-service export OTLP over http/json to a receiver in this test. The request, its RequestCompleted on
// Kafka and its ingestion share one trace; the key's creation over REST shares one with its projection in
// the gateway. Nothing exported and nothing logged contains the key, the prompt or the completion.

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
interface CollectedSpan extends OtlpSpan {
  service: string;
  resource: Record<string, unknown>;
  attrs: Record<string, unknown>;
}

const valueOf = (v: OtlpValue): unknown =>
  v.stringValue ?? (v.intValue !== undefined ? Number(v.intValue) : (v.boolValue ?? v.doubleValue));
const attrsOf = (list: OtlpAttribute[] | undefined): Record<string, unknown> =>
  Object.fromEntries((list ?? []).map((a) => [a.key, valueOf(a.value)]));

// A tiny OTLP/HTTP JSON receiver: keeps every payload as text (for the leak grep) and the spans parsed.
const startOtlpReceiver = async () => {
  const raw: string[] = [];
  const spans: CollectedSpan[] = [];
  const metricNames = new Map<string, Set<string>>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const text = body.toString('utf8');
      raw.push(text);
      try {
        const payload = JSON.parse(text) as {
          resourceSpans?: {
            resource?: { attributes?: OtlpAttribute[] };
            scopeSpans?: { spans?: OtlpSpan[] }[];
          }[];
          resourceMetrics?: {
            resource?: { attributes?: OtlpAttribute[] };
            scopeMetrics?: { metrics?: { name: string }[] }[];
          }[];
        };
        for (const rs of payload.resourceSpans ?? []) {
          const resource = attrsOf(rs.resource?.attributes);
          for (const ss of rs.scopeSpans ?? [])
            for (const s of ss.spans ?? [])
              spans.push({
                ...s,
                service: String(resource['service.name']),
                resource,
                attrs: attrsOf(s.attributes),
              });
        }
        for (const rm of payload.resourceMetrics ?? []) {
          const service = String(attrsOf(rm.resource?.attributes)['service.name']);
          const names = metricNames.get(service) ?? new Set<string>();
          metricNames.set(service, names);
          for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) names.add(m.name);
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    raw,
    spans,
    metricNames,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
};

describe('observability: one trace from client to ledger', () => {
  const stack = testStack();
  const run = randomBytes(4).toString('hex');
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;
  let traced: TestStack;
  // A second gateway with keygate's own (head) sampler.
  let headSampledUrl: string;
  const services: RunningService[] = [];
  const databases = [
    `postgres://postgres@127.0.0.1:5432/keygate_keys_e2e_otel_${run}`,
    `postgres://postgres@127.0.0.1:5432/keygate_usage_e2e_otel_${run}`,
  ];

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    await ensurePostgres(databases, () => undefined);
    const [keysPort, grpcPort, gatewayPort, usagePort, headPort] = await Promise.all([
      freeTestPort(),
      freeTestPort(),
      freeTestPort(),
      freeTestPort(),
      freeTestPort(),
    ]);
    headSampledUrl = `http://127.0.0.1:${headPort}`;
    traced = {
      ...stack,
      keyServiceUrl: `http://127.0.0.1:${keysPort}`,
      grpcUrl: `127.0.0.1:${grpcPort}`,
      gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
      usageServiceUrl: `http://127.0.0.1:${usagePort}`,
    };
    // New consumer groups would replay both shared topics from the start (every earlier run's events): they
    // begin at the end instead. (The gateway's Redis projection is shared with the stack's gateway.)
    const groups = {
      projection: `gateway-projection-e2e-otel-${run}`,
      headProjection: `gateway-projection-e2e-otel-head-${run}`,
      usage: `usage-e2e-otel-${run}`,
    };
    const admin = new Kafka({
      clientId: 'e2e-otel',
      brokers: KAFKA_BROKERS,
      logLevel: logLevel.NOTHING,
    }).admin();
    await admin.connect();
    for (const [groupId, topic] of [
      [groups.projection, Topics.keysEvents],
      [groups.headProjection, Topics.keysEvents],
      [groups.usage, Topics.usageRequests],
      [`${groups.usage}-key-directory`, Topics.keysEvents],
    ] as const) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    }
    await admin.disconnect();
    // Only standard OTEL_* variables turn tracing on; short delays keep the test quick.
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_METRIC_EXPORT_INTERVAL: '1000',
      // Every trace, as docs/observability.md says to trace everything (the shipped default samples 10%).
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
    };
    const own = {
      ...otel,
      KEYS_DATABASE_URL: databases[0],
      USAGE_DATABASE_URL: databases[1],
      KEY_SERVICE_HTTP_PORT: String(keysPort),
      KEY_SERVICE_GRPC_PORT: String(grpcPort),
      KEY_SERVICE_GRPC_URL: traced.grpcUrl,
      GATEWAY_PORT: String(gatewayPort),
      USAGE_SERVICE_PORT: String(usagePort),
      GATEWAY_PROJECTION_GROUP: groups.projection,
      USAGE_CONSUMER_GROUP: groups.usage,
    };
    services.push(await startService(stack, 'key-service', own, `${traced.keyServiceUrl}/health/ready`));
    services.push(
      ...(await Promise.all([
        startService(stack, 'gateway', own, `${traced.gatewayUrl}/health/ready`),
        startService(stack, 'usage-service', own, `${traced.usageServiceUrl}/health/ready`),
        // The shipped sampler (no OTEL_TRACES_SAMPLER), at a ratio of 0: only what a caller sampled is traced.
        startService(
          stack,
          'gateway',
          {
            ...Object.fromEntries(Object.entries(own).filter(([k]) => k !== 'OTEL_TRACES_SAMPLER')),
            OTEL_TRACES_SAMPLER_ARG: '0',
            GATEWAY_PORT: String(headPort),
            GATEWAY_PROJECTION_GROUP: groups.headProjection,
          },
          `${headSampledUrl}/health/ready`,
        ),
      ])),
    );
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await receiver?.close();
    await Promise.all(databases.map((d) => dropDatabase(d).catch(() => undefined)));
  });

  const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
  const spanNamed = (name: string, where: (s: CollectedSpan) => boolean = () => true) =>
    eventually(
      async () => receiver.spans.find((s) => s.name === name && where(s)),
      (s) => s !== undefined,
    ).then((s) => s!);

  it('puts a chat completion, its RequestCompleted and its ingestion in one trace, with no secret or prompt', async () => {
    const key = await createKey(traced, {
      routes: ['gpt-4o-mini'],
      key: { rateLimit: { requestsPerMinute: 1000 } },
    });
    const prompt = `trace me please ${randomBytes(6).toString('hex')} confidential`;
    const messages = [{ role: 'user', content: prompt }];
    const res = await chat(traced.gatewayUrl, key.key, { model: 'gpt-4o-mini', messages });
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^req_/);
    const completion = expectedChatCompletion({ model: 'gpt-4o-mini', messages }).content;

    // The usage-service's span for this request, found by request id, names the trace.
    const ingest = await spanNamed('usage.ingest', (s) => s.attrs['keygate.request.id'] === requestId);
    expect(ingest.service).toBe('usage-service');
    expect(ingest.attrs['keygate.key.id']).toBe(key.id);
    const traceId = ingest.traceId;
    const names = async () => {
      const spans = inTrace(traceId);
      return new Set(spans.map((s) => `${s.service}:${s.name}`));
    };
    const expected = [
      'gateway:auth.verify',
      'gateway:ratelimit.check',
      'gateway:proxy.upstream',
      `gateway:send ${Topics.usageRequests}`,
      'usage-service:usage.ingest',
    ];
    const seen = await eventually(names, (n) => expected.every((e) => n.has(e)));
    expect([...seen]).toEqual(expect.arrayContaining(expected));
    const spans = inTrace(traceId);

    // The gateway's HTTP server span is the root of the trace; usage.ingest is a child of the Kafka send.
    const server = spans.find((s) => s.service === 'gateway' && s.kind === 2 && !s.parentSpanId);
    expect(server?.name).toBe('POST /v1/chat/completions');
    const send = spans.find((s) => s.name === `send ${Topics.usageRequests}`)!;
    expect(ingest.parentSpanId).toBe(send.spanId);
    expect(send.attrs['messaging.destination.name']).toBe(Topics.usageRequests);

    // The id the client got in x-request-id is on the gateway's handler span: it finds the trace.
    expect(spans.some((s) => s.service === 'gateway' && s.attrs['keygate.request.id'] === requestId)).toBe(
      true,
    );
    const auth = spans.find((s) => s.name === 'auth.verify')!;
    expect(auth.attrs['keygate.key.id']).toBe(key.id);
    expect(['cache', 'redis']).toContain(auth.attrs['keygate.auth.source']);
    const upstream = spans.find((s) => s.name === 'proxy.upstream')!;
    expect(upstream.attrs).toMatchObject({
      'keygate.route': 'gpt-4o-mini',
      'keygate.attempt': 0,
      'keygate.fallback': false,
      'http.response.status_code': 200,
    });
    expect(typeof upstream.attrs['keygate.provider']).toBe('string');
    expect(typeof upstream.attrs['keygate.model']).toBe('string');
    // The SQL of the ingestion hangs under it (pg auto-instrumentation).
    expect(spans.some((s) => s.service === 'usage-service' && s.parentSpanId === ingest.spanId)).toBe(true);

    // Resource attributes from package.json and NODE_ENV.
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    expect(server!.resource).toMatchObject({
      'service.name': 'gateway',
      'service.version': version,
      'deployment.environment': 'test',
    });

    // The key's creation over REST: the key-service call, its outbox.publish and the gateway's projection.apply
    // share one trace, because the outbox stored the trace headers at append time.
    const projection = await spanNamed(
      'projection.apply',
      (s) => s.attrs['keygate.aggregate.id'] === key.id && s.attrs['keygate.event.type'] === 'KeyCreated',
    );
    const creation = await eventually(
      async () => inTrace(projection.traceId),
      (ss) =>
        ss.some((s) => s.name === 'outbox.publish') &&
        ss.some((s) => s.service === 'key-service' && s.kind === 2 && !s.parentSpanId),
    );
    const root = creation.find((s) => s.service === 'key-service' && s.kind === 2 && !s.parentSpanId)!;
    expect(root.name).toBe('POST /v1/keys');
    expect(root.attrs).toMatchObject({ 'http.route': '/v1/keys', 'http.response.status_code': 201 });
    const publish = creation.find(
      (s) => s.name === 'outbox.publish' && s.attrs['keygate.aggregate.id'] === key.id,
    );
    expect(publish?.service).toBe('key-service');
    const sendKeyEvent = creation.find((s) => s.name === `send ${Topics.keysEvents}`);
    expect(sendKeyEvent?.parentSpanId).toBe(publish?.spanId);
    expect(projection.parentSpanId).toBe(sendKeyEvent?.spanId);

    // Metrics are pushed over OTLP as well as served at /metrics.
    await eventually(
      async () => receiver.metricNames.get('gateway') ?? new Set<string>(),
      (n) => n.has('keygate_gateway_requests_total') && n.has('keygate_http_request_duration_seconds'),
    );

    // Careless clients: the key in a query string (as Gemini clients do), the prompt in a body that is not JSON.
    const careless = await fetch(`${traced.gatewayUrl}/v1/chat/completions?key=${key.key}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages }),
    });
    expect(careless.status).toBe(200);
    const broken = await chat(
      traced.gatewayUrl,
      key.key,
      `{"model":"gpt-4o-mini","messages":[{"content":"${prompt}`,
    );
    expect(broken.status).toBe(400);
    const brokenAdmin = await fetch(`${traced.keyServiceUrl}/v1/keys`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.adminToken}` },
      body: `{"name":"${prompt}`,
    });
    expect(brokenAdmin.status).toBe(400);
    await eventually(
      async () =>
        receiver.spans.filter(
          (s) => s.service === 'gateway' && s.kind === 2 && s.attrs['url.path'] === '/v1/chat/completions',
        ),
      (ss) => ss.length >= 3,
    );

    // No plaintext key, admin token, prompt or completion in anything exported or logged.
    const logs = services.map((s) => readFileSync(s.logFile, 'utf8')).join('\n');
    for (const text of [receiver.raw.join('\n'), logs]) {
      expect(text).not.toContain(key.key);
      expect(text).not.toContain(key.key.slice(8, 40));
      expect(text).not.toContain(stack.adminToken);
      expect(text).not.toContain(prompt);
      expect(text).not.toContain(prompt.split(' ')[3]);
      expect(text).not.toContain(completion);
    }

    // Log lines written inside a request carry its request id and its trace id.
    const keyServiceLines = readFileSync(services[0].logFile, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const created = keyServiceLines.find(
      (l) =>
        (l.req as { method?: string; url?: string } | undefined)?.url === '/v1/keys' &&
        (l.req as { method?: string }).method === 'POST' &&
        l.trace_id === projection.traceId,
    );
    expect(created).toMatchObject({ requestId: expect.stringMatching(/^req_/), span_id: expect.any(String) });
  });
  it('with the shipped sampler, traces what a caller sampled and makes no span for a request it leaves out', async () => {
    const key = await createKey(traced, { routes: ['gpt-4o-mini'] });
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'sampled or not' }] };
    // Left out (ratio 0, no traceparent): served, and no span anywhere — its usage event says its trace is not
    // sampled, so the usage-service (which traces everything here, parent-based) leaves its ingestion out too.
    const left = await chat(headSampledUrl, key.key, body);
    expect(left.status).toBe(200);
    const leftId = left.headers.get('x-request-id');
    expect(leftId).toMatch(/^req_/);
    // A caller's sampled traceparent is always followed, whatever the ratio.
    const traceId = randomBytes(16).toString('hex');
    const parentId = randomBytes(8).toString('hex');
    const followed = await chat(headSampledUrl, key.key, body, {
      traceparent: `00-${traceId}-${parentId}-01`,
    });
    expect(followed.status).toBe(200);
    const followedId = followed.headers.get('x-request-id');
    const expected = [
      'gateway:POST /v1/chat/completions',
      'gateway:auth.verify',
      'usage-service:usage.ingest',
    ];
    const seen = await eventually(
      async () => new Set(inTrace(traceId).map((s) => `${s.service}:${s.name}`)),
      (n) => expected.every((e) => n.has(e)),
    );
    expect([...seen]).toEqual(expect.arrayContaining(expected));
    const server = inTrace(traceId).find((s) => s.name === 'POST /v1/chat/completions')!;
    expect(server.parentSpanId).toBe(parentId);
    expect(server.attrs['keygate.request.id']).toBe(followedId);
    // The followed request was ingested, so was the one before it (one key: one partition, in order).
    const ledger = await eventually(
      () =>
        api(traced.usageServiceUrl, traced.adminToken)<{ data: { requests: number }[] }>(
          'GET',
          `/v1/usage/keys/${key.id}?granularity=day`,
        ),
      (r) => r.status === 200 && r.body.data.reduce((n, b) => n + b.requests, 0) === 2,
    );
    expect(ledger.status).toBe(200);
    expect(receiver.spans.filter((s) => s.attrs['keygate.request.id'] === leftId)).toEqual([]);
  });
});
