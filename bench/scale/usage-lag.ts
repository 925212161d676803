import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { Pool } from 'undici';
import { GatewayEnv } from '../../apps/gateway/src/gateway.env';
import type { Keygate } from '../lib/keygate';
import { chatBody, round } from '../lib/load';

// End-to-end usage lag: one key's chat completions through a gateway at a steady rate, with a usage-service
// ingesting meanwhile. The gateway emits RequestCompleted as it answers (buffered up to USAGE_FLUSH_MS, then
// Kafka), so the clock runs from each answer to the first moment the key's per-minute aggregate (what the usage
// API reads) counts it. The aggregate is polled every POLL_MS; requests are counted in the order they were answered.

export interface UsageLagStats {
  requests: number;
  ratePerSecond: number;
  seconds: number;
  pollMs: number;
  // The gateway's USAGE_FLUSH_MS (the bench's environment, else the default). Runs before 2026-12-05 recorded none: 100.
  flushMs?: number;
  lagMs: { p50: number; p90: number; p99: number; max: number };
}

const POLL_MS = 10;

export const measureUsageLag = async (
  keygate: Keygate,
  usageDatabaseUrl: string,
  ratePerSecond = 200,
  seconds = 20,
): Promise<UsageLagStats> => {
  const group = await keygate.createGroup(['gpt-4o-mini']);
  const key = await keygate.createKey({ groupIds: [group] });
  await keygate.waitForRoute(key.key, 'gpt-4o-mini');
  const db = new Client({ connectionString: usageDatabaseUrl });
  await db.connect();
  const counted = async (): Promise<number> =>
    (
      await db.query<{ n: number }>(
        `SELECT coalesce(sum(requests), 0)::int AS n FROM usage_minute WHERE key_id = $1`,
        [key.id],
      )
    ).rows[0].n;
  const polls: { at: number; n: number }[] = [];
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const n = await counted();
      polls.push({ at: performance.now(), n });
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();

  const pool = new Pool(keygate.gatewayUrls[0], { connections: 16 });
  const answered: number[] = [];
  const failures: Record<string, number> = {};
  const send = async (): Promise<void> => {
    const res = await pool.request({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
      body: chatBody(),
    });
    await res.body.dump();
    if (res.statusCode === 200) answered.push(performance.now());
    else failures[res.statusCode] = (failures[res.statusCode] ?? 0) + 1;
  };
  try {
    // Paced, not closed-loop: request i leaves at t0 + i / rate whatever the previous ones do.
    const total = ratePerSecond * seconds;
    const t0 = performance.now();
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = t0 + (i * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      inFlight.push(send().catch((e: unknown) => void (failures[(e as Error).message] = 1)));
    }
    await Promise.all(inFlight);
    if (Object.keys(failures).length) throw new Error(`requests failed: ${JSON.stringify(failures)}`);
    const deadline = performance.now() + 60_000;
    while ((polls[polls.length - 1]?.n ?? 0) < answered.length) {
      if (performance.now() > deadline)
        throw new Error(
          `the aggregate counts ${polls[polls.length - 1]?.n} of ${answered.length} after 60 s`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    polling = false;
    await poller;
    await pool.close();
    await db.end();
  }
  answered.sort((a, b) => a - b);
  const lags: number[] = [];
  let p = 0;
  for (const [i, at] of answered.entries()) {
    while (polls[p].n < i + 1) p++;
    lags.push(Math.max(0, polls[p].at - at));
  }
  lags.sort((a, b) => a - b);
  const q = (x: number) => round(lags[Math.min(lags.length - 1, Math.floor(x * lags.length))], 1);
  return {
    requests: answered.length,
    ratePerSecond,
    seconds,
    pollMs: POLL_MS,
    flushMs: Number(process.env.USAGE_FLUSH_MS) || new GatewayEnv().USAGE_FLUSH_MS,
    lagMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: round(lags[lags.length - 1], 1) },
  };
};
