import Decimal from 'decimal.js';
import type { RequestCompletedData } from '@keygate/contracts';
import { loadRoutesConfig } from '@keygate/platform';
import { runId, sleep, UsageHarness, usage, type UsageProcess } from './usage-service.helper';

// The ledger's promise, under the worst conditions we can produce: 100,000 RequestCompleted events with known
// per-key totals, 5% of them delivered twice (in the same batch or much later), consumed by two usage-service
// instances sharing the partitions, each SIGKILLed every few seconds and restarted. The totals must be exact.
const EVENTS = 100_000;
const KEYS = 400;
const DUPLICATE_SHARE = 0.05;

// A fixed pseudo-random sequence: the same events on every run.
const lcg = (seed: number) => () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;

interface Truth {
  requests: number;
  errors: number;
  promptTokens: number;
  completionTokens: number;
  cost: Decimal;
}

describe('usage ingestion is exactly-once in effect (real Kafka + PostgreSQL, SIGKILL)', () => {
  let h: UsageHarness;

  beforeAll(async () => {
    h = await UsageHarness.create('exactly-once', { LOG_LEVEL: 'warn' });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('100,000 events, 5% duplicated, two instances SIGKILLed every few seconds: per-key totals equal the truth', async () => {
    const run = runId();
    const { pricing } = loadRoutesConfig('config/routes.yaml', {});
    const models = ['gpt-4o-mini', 'gpt-4o', 'gemini-1.5-flash', 'text-embedding-3-small', 'unpriced-model'];
    const rand = lcg(42);
    const now = Date.now();
    const truth = new Map<string, Truth>();
    const events: RequestCompletedData[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const keyId = `key_eo${run}_${Math.floor(rand() * KEYS)}`;
      const model = models[Math.floor(rand() * models.length)];
      const failed = rand() < 0.03;
      const promptTokens = failed ? 0 : Math.floor(rand() * 4000);
      const completionTokens = failed || model.startsWith('text-') ? 0 : Math.floor(rand() * 2000);
      const e = usage({
        keyId,
        requestId: `req_eo${run}_${i}`,
        route: model,
        upstreamModel: model,
        status: failed ? 429 : 200,
        outcome: failed ? 'upstream_error' : 'success',
        errorCode: failed ? 'rate_limit_exceeded' : null,
        promptTokens,
        completionTokens,
        streamed: rand() < 0.3,
        clientIp: `198.51.100.${Math.floor(rand() * 4)}`,
        time: new Date(now - Math.floor(rand() * 15 * 60_000)).toISOString(),
      });
      events.push(e);
      const t = truth.get(keyId) ?? {
        requests: 0,
        errors: 0,
        promptTokens: 0,
        completionTokens: 0,
        cost: new Decimal(0),
      };
      const price = pricing[model];
      truth.set(keyId, {
        requests: t.requests + 1,
        errors: t.errors + (failed ? 1 : 0),
        promptTokens: t.promptTokens + promptTokens,
        completionTokens: t.completionTokens + completionTokens,
        cost: price
          ? t.cost.add(
              new Decimal(price.input)
                .mul(promptTokens)
                .add(new Decimal(price.output).mul(completionTokens))
                .div(1e6),
            )
          : t.cost,
      });
    }
    // 5% delivered twice: half right behind the original (often the same batch), half at the very end.
    const stream: RequestCompletedData[] = [];
    const late: RequestCompletedData[] = [];
    for (const e of events) {
      stream.push(e);
      if (rand() < DUPLICATE_SHARE) (rand() < 0.5 ? stream : late).push({ ...e });
    }
    stream.push(...late);
    const duplicates = stream.length - EVENTS;

    // 0 until the first instance has migrated the database.
    const ingested = async () =>
      Number(
        (
          await h
            .query<{ n: string }>(`SELECT count(*) AS n FROM usage_requests WHERE request_id LIKE $1`, [
              `req_eo${run}_%`,
            ])
            .catch(() => [{ n: '0' }])
        )[0].n,
      );
    const t0 = Date.now();
    const deadline = t0 + 150_000;
    let produced = 0;
    // Produced in slices over ~40 s, so the kills land while events keep arriving.
    const producing = (async () => {
      for (let i = 0; i < stream.length; i += 5000) {
        await h.produceUsage(stream.slice(i, i + 5000));
        await sleep(2000);
      }
      produced = Date.now() - t0;
    })();
    // Two instances, each SIGKILLed 2.5-5 s after it is up and restarted at once, while events keep arriving; the
    // chaos stops once everything is produced and there were at least 8 kills, however fast ingestion is (a fast
    // machine ingests everything before the eighth kill; the kills must still happen, or the test proves less).
    let done = false;
    let kills = 0;
    const chaos = async (): Promise<UsageProcess> => {
      for (;;) {
        const p = await h.start();
        await sleep(2500 + rand() * 2500);
        if (done || Date.now() > deadline) return p;
        await p.kill('SIGKILL');
        kills++;
      }
    };
    const loops = [chaos(), chaos()];
    let instances: UsageProcess[];
    try {
      while (!(produced && kills >= 8) && Date.now() < deadline) await sleep(250);
    } finally {
      done = true;
      instances = await Promise.all(loops);
    }
    await producing;
    while ((await ingested()) < EVENTS && Date.now() < deadline + 30_000) await sleep(250);
    const elapsed = Date.now() - t0;
    expect(await ingested()).toBe(EVENTS);
    // What a user sees: the summary API, per key.
    const api = h.api(instances[0]);
    const summary = await api<{
      data: {
        keyId: string;
        requests: number;
        errors: number;
        promptTokens: number;
        completionTokens: number;
        costUsd: string;
      }[];
    }>('GET', `/v1/usage/summary?groupBy=key&from=${new Date(now - 3_600_000).toISOString()}`);
    expect(summary.status).toBe(200);
    const seen = summary.body.data.filter((r) => r.keyId.startsWith(`key_eo${run}_`));
    expect(seen).toHaveLength(truth.size);
    const mismatches = seen.filter((r) => {
      const t = truth.get(r.keyId)!;
      return (
        r.requests !== t.requests ||
        r.errors !== t.errors ||
        r.promptTokens !== t.promptTokens ||
        r.completionTokens !== t.completionTokens ||
        !new Decimal(r.costUsd).eq(t.cost)
      );
    });
    expect(mismatches).toEqual([]);
    // The daily rollup budgets read agrees to the last decimal place.
    const days = await h.query<{ key_id: string; requests: string; cost: string }>(
      `SELECT key_id, sum(requests) AS requests, sum(cost_usd)::text AS cost FROM usage_day WHERE key_id LIKE $1 GROUP BY 1`,
      [`key_eo${run}_%`],
    );
    expect(
      days.filter(
        (d) =>
          Number(d.requests) !== truth.get(d.key_id)!.requests ||
          !new Decimal(d.cost).eq(truth.get(d.key_id)!.cost),
      ),
    ).toEqual([]);
    const grand = [...truth.values()].reduce((s, t) => s.add(t.cost), new Decimal(0));
    expect(await h.query(`SELECT 1 FROM dead_letters LIMIT 1`)).toEqual([]);

    expect(kills).toBeGreaterThanOrEqual(8);
    process.stdout.write(
      `[usage exactly-once] ${EVENTS} events + ${duplicates} duplicates over ${truth.size} keys, ` +
        `produced in ${produced} ms, all ingested ${(elapsed / 1000).toFixed(1)} s after the first produce ` +
        `with ${kills} SIGKILLs (two instances); total ${grand.toFixed()} USD exact\n`,
    );
  }, 240_000);
});
