import Decimal from 'decimal.js';
import { chat, createKey, testStack } from '@keygate/testing';

// Budgets are enforced by the gateway itself, from a running spend per key and period in Redis: a key stops at
// its budget under concurrent load instead of overshooting it while the ledger catches up. gpt-4o-mini costs
// 0.15 / 0.60 USD per 1M tokens (config/routes.yaml); the mock answers with real usage figures.
describe('gateway budget enforcement', () => {
  const stack = testStack();
  const body = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'what does this cost' }] };

  interface Answer {
    status: number;
    code: string | null;
    micros: Decimal; // this request's cost in micro-USD, from the usage it reported
  }
  const send = async (key: string): Promise<Answer> => {
    const res = await chat(stack.gatewayUrl, key, body);
    const json = (await res.json()) as {
      usage?: { prompt_tokens: number; completion_tokens: number };
      error?: { code: string };
    };
    const u = json.usage;
    return {
      status: res.status,
      code: json.error?.code ?? null,
      micros: u
        ? new Decimal(0.15).mul(u.prompt_tokens).add(new Decimal(0.6).mul(u.completion_tokens))
        : new Decimal(0),
    };
  };

  it('admits requests until the spend reaches the budget, then answers 429 budget_exceeded', async () => {
    const amountUsd = '0.00004'; // 40 micro-USD: a handful of requests
    const { key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { budget: { amountUsd, period: 'day' } },
    });
    const admitted: Answer[] = [];
    let refused: Answer | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const a = await send(key);
      if (a.status === 200) admitted.push(a);
      else refused = a;
      await new Promise((r) => setTimeout(r, 20)); // the charge is written just after the answer
    }
    expect(refused).toMatchObject({ status: 429, code: 'budget_exceeded' });
    const spent = admitted.reduce((s, a) => s.add(a.micros), new Decimal(0));
    const budget = new Decimal(amountUsd).mul(1e6);
    // Refused only once the budget was spent, and not one request later than that.
    expect(spent.gte(budget)).toBe(true);
    expect(spent.sub(admitted[admitted.length - 1].micros).lt(budget)).toBe(true);
  });

  it('holds under 40 concurrent clients: the overshoot is at most the requests in flight', async () => {
    const amountUsd = '0.0005'; // 500 micro-USD
    const { key } = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { budget: { amountUsd, period: 'month' } },
    });
    const clients = 40;
    const admitted: Answer[] = [];
    const codes = new Set<string | null>();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        for (let i = 0; i < 200; i++) {
          const a = await send(key);
          if (a.status !== 200) {
            codes.add(a.code);
            return;
          }
          admitted.push(a);
        }
      }),
    );
    expect([...codes]).toEqual(['budget_exceeded']);
    const spent = admitted.reduce((s, a) => s.add(a.micros), new Decimal(0));
    const budget = new Decimal(amountUsd).mul(1e6);
    const largest = Decimal.max(...admitted.map((a) => a.micros));
    expect(spent.gte(budget)).toBe(true);
    // Each client can have one request in flight when the budget is reached (plus one charge still landing).
    expect(spent.lte(budget.add(largest.mul(clients + 1)))).toBe(true);
    process.stdout.write(
      `[budget] ${clients} clients, budget ${budget.toString()} µUSD, spent ${spent.toString()} µUSD ` +
        `(${spent.div(budget).mul(100).toFixed(1)}%) over ${admitted.length} requests\n`,
    );
  });
});
