import { join } from 'node:path';
import OpenAI from 'openai';
import type { Browser, Page } from 'playwright-core';
import {
  createKey,
  ROOT,
  startObserveStack,
  stopObserveStack,
  testStack,
  zipkinTraceOf,
  type ObserveStack,
} from '@keygate/testing';
import { launchChromium } from './browser';
import { browserRun } from './browser-run';

// What an SRE looks at on a `npm run up -- --observe` stack (issue 21): one chat request's trace in Zipkin's UI and
// the request rate in Prometheus's graph. The screenshots are the ones docs/operations.md shows.
process.env.KEYGATE_E2E_RUN = browserRun();
const SHOTS = join(ROOT, 'docs', 'operations');

describe('the observe stack in a browser', () => {
  let stack: ObserveStack;
  let browser: Browser;
  let page: Page;
  let client: OpenAI;

  beforeAll(async () => {
    stack = await startObserveStack(testStack());
    const key = await createKey(stack, { routes: ['gpt-4o-mini'] });
    client = new OpenAI({ apiKey: key.key, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    if (stack) await stopObserveStack(stack);
  }, 90_000);

  it("shows one chat request's trace in Zipkin: gateway → Kafka → usage-service", async () => {
    const { response } = await client.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the SRE.' }] })
      .withResponse();
    const spans = await zipkinTraceOf(stack.zipkinUrl, response.headers.get('x-request-id')!);
    await page.goto(`${stack.zipkinUrl}/zipkin/traces/${spans[0].traceId}`);
    await page.getByText('usage-service: usage.ingest').waitFor();
    await page.getByText(/^gateway: send .*usage\.requests$/).click();
    await page.screenshot({ path: join(SHOTS, 'zipkin-trace.png') });
    await expect(page.getByText('gateway: post /v1/chat/completions').count()).resolves.toBeGreaterThan(0);
  });

  it('graphs the request rate per route in Prometheus', async () => {
    // A few requests a second for a while, so the rate has a shape.
    const until = Date.now() + 15_000;
    while (Date.now() < until) {
      await client.chat.completions.create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'hi' }],
      });
      await new Promise((r) => setTimeout(r, 200));
    }
    const expr = 'service_route:keygate_http_requests:rate5m{route!~"/health.*|/metrics"}';
    await page.goto(
      `${stack.prometheusUrl}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=2m`,
    );
    await page.getByText('/v1/chat/completions').first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'prometheus-graph.png'), fullPage: true });
  });
});
