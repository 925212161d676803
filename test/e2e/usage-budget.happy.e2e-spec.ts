import { randomBytes } from 'node:crypto';
import Decimal from 'decimal.js';
import OpenAI from 'openai';
import { Pool } from 'pg';
import { api, eventually, testStack } from '@keygate/testing';

const BUDGET = '0.002';
const WORKERS = 40;

// A key with a small daily budget hammered by concurrent clients: the gateway stops it at its budget (holds at
// admission), and usage-service raises the 50% and 80% alerts from the ledger. When the ledger finds a key past its
// budget all the same (here: its budget lowered below what it spent; in production, a Redis that lost its counters),
// usage-service asks key-service (gRPC) to suspend it, and the gateway answers 429 budget_exceeded. Raising the
// budget reactivates the key.
describe('budgets end to end: gateway holds, ledger alerts, suspension as the backstop', () => {
  const stack = testStack();
  const admin = api(stack.keyServiceUrl, stack.adminToken);
  const usage = api(stack.usageServiceUrl, stack.adminToken);
  const run = randomBytes(4).toString('hex');
  let keyId = '';
  let client: OpenAI;
  let spent = new Decimal(0);
  const call = (content = 'tell me about budget overshoot please') =>
    client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content }] }).then(
      () => 'ok' as const,
      (e: { status?: number; code?: string }) =>
        e.status === 429 && e.code === 'budget_reserved'
          ? ('held' as const)
          : e.status === 429 && e.code === 'budget_exceeded'
            ? ('refused' as const)
            : ('error' as const),
    );
  const thresholds = (min: number) =>
    eventually(
      () =>
        usage<{ data: { details: { threshold: number; amountUsd?: string } }[] }>(
          'GET',
          `/v1/alerts?keyId=${keyId}&type=budget_threshold`,
        ),
      (r) => r.body.data.length >= min,
    );

  it('stops the key at its budget under 40 concurrent clients; the ledger shows ≤ 100% and alerts at 50% and 80%', async () => {
    const group = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `budget-${run}`,
      routes: ['gpt-4o'],
    });
    const key = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
      name: `budgeted ${run}`,
      ownerId: 'team-budget',
      groupIds: [group.body.id],
      budget: { amountUsd: BUDGET, period: 'day' },
    });
    expect(key.status).toBe(201);
    keyId = key.body.id;
    client = new OpenAI({ apiKey: key.body.key, baseURL: `${stack.gatewayUrl}/v1`, maxRetries: 0 });
    await eventually(
      () =>
        client.models.list().then(
          (m) => m.data.length,
          () => 0,
        ),
      (n) => n === 1,
    );

    // Concurrent clients through the openai SDK, each calling until the gateway refuses the key for good.
    const started = Date.now();
    let accepted = 0;
    let held = 0;
    let sent = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, async () => {
        while (Date.now() - started < 60_000) {
          const r = await call();
          sent++;
          if (r === 'ok') accepted++;
          if (r === 'held') held++;
          if (r === 'refused' || r === 'error') return;
        }
      }),
    );

    // Every request is in the ledger: the spend is final, and within the budget.
    const ledger = await eventually(
      () =>
        usage<{ data: { requests: number; costUsd: string }[] }>(
          'GET',
          `/v1/usage/keys/${keyId}?granularity=day`,
        ),
      (r) => r.body.data.reduce((n, b) => n + b.requests, 0) >= sent,
    );
    spent = ledger.body.data.reduce((c, b) => c.add(b.costUsd), new Decimal(0));
    process.stdout.write(
      `[usage budget] budget ${BUDGET} USD/day, ${WORKERS} concurrent clients: ${accepted} requests served, ` +
        `${held} told to retry while holds took the rest; ledger ${spent.toFixed()} USD = ` +
        `${spent.div(BUDGET).mul(100).toDecimalPlaces(2)}% of the budget in ${Date.now() - started} ms\n`,
    );
    expect(spent.lte(BUDGET)).toBe(true);
    expect(spent.gte(new Decimal(BUDGET).mul(0.9))).toBe(true);
    const alerts = await thresholds(2);
    expect(alerts.body.data.map((a) => a.details.threshold).sort((a, b) => a - b)).toEqual(
      spent.gte(BUDGET) ? [50, 80, 100] : [50, 80],
    );
    expect((await admin<{ state: string }>('GET', `/v1/keys/${keyId}`)).body.state).toBe('active');
  }, 120_000);

  it('suspends the key through key-service when the ledger finds it past its budget', async () => {
    // The budget lowered below what the key spent: the gateway refuses at once, and the ledger is past 100%.
    const lowered = spent.div(2).toDecimalPlaces(6, Decimal.ROUND_DOWN).toFixed();
    const current = await admin('GET', `/v1/keys/${keyId}`);
    const patched = await admin(
      'PATCH',
      `/v1/keys/${keyId}`,
      { budget: { amountUsd: lowered, period: 'day' } },
      { 'if-match': current.headers.get('etag') ?? '' },
    );
    expect(patched.status).toBe(200);
    const t0 = Date.now();
    // The refused request's usage event is the batch that makes usage-service look at the key again.
    await eventually(
      () => call('one more?'),
      (r) => r === 'refused',
    );
    await eventually(
      () => admin<{ state: string }>('GET', `/v1/keys/${keyId}`),
      (r) => r.body.state === 'suspended',
    );
    // The enforcement row records when SuspendKey answered (written just after the answer).
    const db = new Pool({ connectionString: stack.usageDatabaseUrl, max: 1 });
    const timing = await eventually(
      async () =>
        (
          await db.query(`SELECT created_at, suspended_at FROM budget_enforcements WHERE key_id = $1`, [
            keyId,
          ])
        ).rows[0] as { created_at: Date; suspended_at: Date | null } | undefined,
      (row) => Boolean(row?.suspended_at),
    ).finally(() => db.end());
    process.stdout.write(
      `[usage budget] budget lowered below the spend: enforcement decided +${timing!.created_at.getTime() - t0} ms, ` +
        `SuspendKey answered +${timing!.suspended_at!.getTime() - t0} ms\n`,
    );
    expect(await call('and now?')).toBe('refused');
    const alerts = await thresholds(3);
    expect(alerts.body.data.some((a) => a.details.threshold === 100)).toBe(true);
  }, 60_000);

  it('reactivates the key once its budget is raised above the spend', async () => {
    const listed = await admin<{ data: { id: string }[] }>(
      'GET',
      `/v1/keys?ownerId=team-budget&state=suspended&limit=200`,
    );
    const id = listed.body.data.find((k) => k.id)!.id;
    const current = await admin('GET', `/v1/keys/${id}`);
    const patched = await admin(
      'PATCH',
      `/v1/keys/${id}`,
      { budget: { amountUsd: '10', period: 'day' } },
      {
        'if-match': current.headers.get('etag') ?? '',
      },
    );
    expect(patched.status).toBe(200);
    const reactivated = await eventually(
      () => admin<{ state: string }>('GET', `/v1/keys/${id}`),
      (r) => r.body.state === 'active',
      {
        timeoutMs: 30_000,
      },
    );
    expect(reactivated.body.state).toBe('active');
  }, 60_000);
});
