import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import OpenAI from 'openai';
import {
  createKey,
  eventually,
  getJson,
  ROOT,
  startObserveStack,
  stopObserveStack,
  testStack,
  zipkinTraceOf,
  type ObserveStack,
} from '@keygate/testing';
import { PROMTOOL } from '@keygate/stack';

// `npm run up -- --observe` (issue 21, "Checked by"): one chat completion through the openai SDK, then what an SRE
// sees — the request as one trace in Zipkin (gateway → Kafka → usage-service), every keygate process scraped by
// Prometheus with a non-zero request rate from the recording rules, the promtool rule tests green, and no key or
// prompt in any span Zipkin stored.

const promQuery = (stack: ObserveStack, query: string) =>
  getJson<{ data: { result: { metric: Record<string, string>; value: [number, string] }[] } }>(
    `${stack.prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`,
  ).then((r) => r.data.result);

describe('npm run up -- --observe: Zipkin and Prometheus on a running stack', () => {
  let stack: ObserveStack;
  let client: OpenAI;
  let key: { id: string; key: string };
  const prompt = `observe me ${randomBytes(6).toString('hex')} confidential`;
  let requestId: string;

  beforeAll(async () => {
    stack = await startObserveStack(testStack());
    key = await createKey(stack, { routes: ['gpt-4o-mini'] });
    client = new OpenAI({ apiKey: key.key, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });
  }, 300_000);

  afterAll(async () => {
    if (stack) await stopObserveStack(stack);
  }, 90_000);

  it('prints the Zipkin and Prometheus URLs', () => {
    expect(stack.output).toContain(`zipkin        ${stack.zipkinUrl}/zipkin/`);
    expect(stack.output).toContain(`prometheus    ${stack.prometheusUrl}`);
  });

  it('stores one chat completion as one trace: the gateway, the Kafka hop and the usage-service', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: prompt }] })
      .withResponse();
    expect(data.choices[0].message.content).toContain('mock reply');
    requestId = response.headers.get('x-request-id')!;
    expect(requestId).toMatch(/^req_/);

    const spans = await zipkinTraceOf(stack.zipkinUrl, requestId);
    const traceId = spans[0].traceId;
    const byName = (service: string, name: string) =>
      spans.find((s) => s.localEndpoint?.serviceName === service && s.name === name);
    const server = byName('gateway', 'post /v1/chat/completions');
    // The stack's own namespace prefixes the topic: `send observe-….usage.requests`.
    const send = spans.find((s) => s.kind === 'PRODUCER' && s.name.endsWith('usage.requests'));
    const ingest = byName('usage-service', 'usage.ingest');
    expect(server).toMatchObject({ kind: 'SERVER', traceId });
    expect(server?.parentId).toBeUndefined();
    expect(byName('gateway', 'proxy.upstream')?.tags?.['keygate.provider']).toBeDefined();
    expect(send).toMatchObject({ kind: 'PRODUCER', traceId });
    expect(ingest).toMatchObject({ kind: 'CONSUMER', traceId, parentId: send!.id });
    expect(ingest?.tags?.['keygate.key.id']).toBe(key.id);
    expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([traceId]));
  });

  it('keeps the key and the prompt out of every span Zipkin stored', async () => {
    // Every trace of every service in the last ten minutes, as raw JSON.
    const services = await getJson<string[]>(`${stack.zipkinUrl}/api/v2/services`);
    expect(services).toEqual(expect.arrayContaining(['gateway', 'key-service', 'usage-service']));
    const raw = await Promise.all(
      services.map((s) =>
        fetch(`${stack.zipkinUrl}/api/v2/traces?serviceName=${s}&limit=1000&lookback=600000`).then((r) =>
          r.text(),
        ),
      ),
    );
    const stored = raw.join('\n');
    expect(stored).toContain(requestId);
    expect(stored).not.toContain(key.key);
    expect(stored).not.toContain(key.key.slice(8, 30));
    expect(stored).not.toContain(prompt);
    expect(stored).not.toContain(stack.adminToken);
  });

  it('has Prometheus scrape every keygate process and compute a request rate per route', async () => {
    const targets = await getJson<{
      data: { activeTargets: { labels: Record<string, string>; health: string }[] };
    }>(`${stack.prometheusUrl}/api/v1/targets`);
    expect(targets.data.activeTargets.map((t) => t.labels.service).sort()).toEqual([
      'gateway',
      'key-service',
      'usage-service',
    ]);
    await eventually(
      () => promQuery(stack, 'up'),
      (r) => r.length === 3 && r.every((s) => s.value[1] === '1'),
      { timeoutMs: 15_000, intervalMs: 500 },
    );
    // A rate needs two samples that differ: keep chatting until the recording rule shows one.
    const rate = await eventually(
      async () => {
        await client.chat.completions.create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'hi' }],
        });
        return promQuery(
          stack,
          'service_route:keygate_http_requests:rate5m{service="gateway",route="/v1/chat/completions"}',
        );
      },
      (r) => r.length === 1 && Number(r[0].value[1]) > 0,
      { timeoutMs: 30_000, intervalMs: 1_000 },
    );
    expect(Number(rate[0].value[1])).toBeGreaterThan(0);
    // The rules loaded and evaluate cleanly; nothing is firing on a healthy stack.
    const rules = await getJson<{ data: { groups: { rules: { health: string; state?: string }[] }[] } }>(
      `${stack.prometheusUrl}/api/v1/rules`,
    );
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all.length).toBeGreaterThanOrEqual(25);
    expect(all.filter((r) => r.health !== 'ok')).toEqual([]);
    expect(all.filter((r) => r.state === 'firing')).toEqual([]);
  });

  it('passes the promtool rule tests', () => {
    const dir = join(ROOT, 'infra', 'prometheus');
    const out = execFileSync(
      PROMTOOL,
      ['test', 'rules', 'tests/alerts.test.yml', 'tests/recording.test.yml'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    expect(out.match(/SUCCESS/g)).toHaveLength(2);
  });
});
