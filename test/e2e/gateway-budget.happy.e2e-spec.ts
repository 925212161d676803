import Decimal from 'decimal.js';
import { startMockProvider, type MockProvider } from '../../libs/testing/src/mock-provider/mock-provider';
import { api, createKey, testStack, waitForGateway } from '@keygate/testing';
import { budgetCall, ledgerCost, spendUntilRefused } from './support/budget-clients';
import { startGateways, type GatewayInstances } from './support/gateway-instances';

// Budgets that cannot overshoot: each request holds its worst-case cost at admission, is clamped to what the rest
// of the budget pays for, and settles its exact cost after the answer. gpt-4o-mini costs 0.15 / 0.60 USD per 1M
// tokens (config/routes.yaml, maxOutputTokens 16384); the mock answers with real usage figures, and its answer is
// "mock reply to: <the first five words>", cut at max_tokens.
describe('gateway budgets: reserved, clamped, never overshot', () => {
  const stack = testStack();

  it('40 concurrent clients (streaming and not) on a 500 µUSD daily budget: the ledger ends ≤ 100% and ≥ 90% of it', async () => {
    const budget = new Decimal('0.0005');
    const { id, key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { budget: { amountUsd: budget.toFixed(), period: 'day' } },
    });
    const load = await spendUntilRefused([stack.gatewayUrl], [key], 40);
    expect(load.others).toEqual([]);
    expect(load.refusals).toHaveLength(40);
    const spent = await ledgerCost(stack, [id], load.served + load.retried + load.refusals.length);
    process.stdout.write(
      `[budget] 40 clients, budget ${budget.mul(1e6).toFixed()} µUSD: ledger ${spent.mul(1e6).toFixed(3)} µUSD ` +
        `(${spent.div(budget).mul(100).toFixed(2)}%) over ${load.served} answers (${load.clamped} clamped), ` +
        `${load.retried} retried while holds took the rest\n`,
    );
    expect(spent.lte(budget)).toBe(true);
    expect(spent.gte(budget.mul(0.9))).toBe(true);
    // The last refusal says which budget, its period, what is spent and its amount.
    expect(load.refusals[0].message).toMatch(
      /^This API key has a daily budget of 0\.0005 USD; 0\.000\d+ USD is spent this period/,
    );
  }, 120_000);

  it('clamps a stream with no max_tokens to what the budget pays for: it ends with finish_reason "length"', async () => {
    // 5 µUSD: the prompt's worst case (13 tokens × 0.15) leaves 3.05 µUSD, 5 completion tokens at 0.60.
    const { id, key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { budget: { amountUsd: '0.000005', period: 'day' } },
    });
    const a = await budgetCall(stack.gatewayUrl, key, { stream: true });
    expect(a).toMatchObject({
      status: 200,
      clamped: '5',
      finish: 'length',
      text: 'mock reply to: what does',
    });
    // A client's own max_tokens the rest cannot pay for is lowered too; then nothing is left for an answer.
    const b = await budgetCall(stack.gatewayUrl, key, { maxTokens: 100 });
    expect(b.status).toBe(429);
    expect(b).toMatchObject({ code: 'budget_exceeded', retryAfter: null });
    expect(b.message).toContain('what is left cannot pay for');
    const spent = await ledgerCost(stack, [id], 2);
    expect(spent.lte('0.000005')).toBe(true);
  }, 60_000);

  describe('a budget shared by a group', () => {
    let second: GatewayInstances | undefined;
    beforeAll(async () => {
      second = await startGateways(stack, 1);
    }, 90_000);
    afterAll(async () => {
      await second?.stop();
    }, 30_000);

    it('holds across 5 keys on 2 gateways: the group ledger ends ≤ 100% and ≥ 90% of its budget', async () => {
      const admin = api(stack.keyServiceUrl, stack.adminToken);
      const budget = new Decimal('0.0005');
      const group = await admin<{ id: string }>('POST', '/v1/groups', {
        name: `shared-${Date.now()}`,
        routes: ['gpt-4o-mini'],
        budget: { amountUsd: budget.toFixed(), period: 'month' },
      });
      expect(group.status).toBe(201);
      const keys = await Promise.all(
        Array.from({ length: 5 }, () =>
          createKey(stack, { key: { groupIds: [group.body.id] }, waitForGateway: false }),
        ),
      );
      const gateways = [stack.gatewayUrl, second!.urls[0]];
      for (const g of gateways) for (const k of keys) await waitForGateway(g, k.key);
      const load = await spendUntilRefused(
        gateways,
        keys.map((k) => k.key),
        40,
      );
      expect(load.others).toEqual([]);
      const spent = await ledgerCost(
        stack,
        keys.map((k) => k.id),
        load.served + load.retried + load.refusals.length,
      );
      process.stdout.write(
        `[budget] group budget ${budget.mul(1e6).toFixed()} µUSD, 5 keys, 2 gateways, 40 clients: ledger ` +
          `${spent.mul(1e6).toFixed(3)} µUSD (${spent.div(budget).mul(100).toFixed(2)}%) over ${load.served} answers\n`,
      );
      expect(spent.lte(budget)).toBe(true);
      expect(spent.gte(budget.mul(0.9))).toBe(true);
      expect(load.refusals[0].message).toContain(
        `This API key's group ${group.body.id} has a monthly budget of 0.0005 USD`,
      );
    }, 120_000);
  });

  describe('a gateway killed mid-request', () => {
    let mock: MockProvider;
    let doomed: GatewayInstances | undefined;

    beforeAll(async () => {
      mock = await startMockProvider({ port: 0, latencyMs: 60_000 });
      doomed = await startGateways(stack, 1, { OPENAI_BASE_URL: `${mock.url}/v1`, IN_FLIGHT_TTL_MS: '3000' });
    }, 90_000);
    afterAll(async () => {
      await doomed?.stop();
      await mock?.close();
    }, 30_000);

    it('leaves holds that expire: the budget is usable again within their lifetime', async () => {
      const { key } = await createKey(stack, {
        routes: ['gpt-4o-mini'],
        key: { budget: { amountUsd: '0.0001', period: 'day' } },
      });
      await waitForGateway(doomed!.urls[0], key);
      // No max_tokens: it holds the whole budget (clamped to it) while the provider thinks.
      void budgetCall(doomed!.urls[0], key).catch(() => undefined);
      await mock.waitForRequest(undefined, 10_000);
      await doomed!.services[0].stop('SIGKILL');
      const killedAt = Date.now();

      const held = await budgetCall(stack.gatewayUrl, key);
      expect(held).toMatchObject({ status: 429, code: 'budget_reserved', retryAfter: '1' });
      expect(held.message).toContain('held by requests in flight');
      let served = held;
      while (served.status !== 200 && Date.now() - killedAt < 10_000) {
        await new Promise((r) => setTimeout(r, 200));
        served = await budgetCall(stack.gatewayUrl, key);
      }
      const after = Date.now() - killedAt;
      process.stdout.write(
        `[budget] a killed gateway's hold expired: served again ${after} ms after the kill\n`,
      );
      expect(served.status).toBe(200);
      expect(after).toBeLessThan(3000 + 2000);
    }, 60_000);
  });
});
