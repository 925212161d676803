import { Agent, request } from 'undici';
import { BENCH_KEY } from './lib/keygate';
import { chatBody, quantile, round, warmUp, type Target } from './lib/load';
import { cleanup, envNumber, log, ROOT } from './lib/processes';
import { startSideBySide } from './lib/side-by-side';

// When a target's slow requests happen at c=1: one request at a time for BENCH_SECONDS (default 10), each one's
// start and latency; then the slow ones (above BENCH_SLOW_MS, default 3× the target's p50) by the gap to the slow
// one before them and by their phase in each period of BENCH_PERIODS_MS (default 100,500,1000,5000 ms: the timers
// of a gateway). A slow request that recurs with a timer shows up as a peak in one phase bin.
//   node dist/bench/tail-timeline.js [root of an earlier build]   BENCH_CONFIGS=default

const sequential = async (t: Target, seconds: number): Promise<{ start: number[]; ms: number[] }> => {
  const agent = new Agent({ connections: 1, keepAliveTimeout: 30_000 });
  const start: number[] = [];
  const ms: number[] = [];
  const end = performance.now() + seconds * 1000;
  const body = chatBody();
  try {
    while (performance.now() < end) {
      const t0 = performance.now();
      const res = await request(t.url, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json', ...t.headers },
        body,
      });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`${t.name}: HTTP ${res.statusCode}`);
      start.push(t0);
      ms.push(performance.now() - t0);
    }
  } finally {
    await agent.close();
  }
  return { start, ms };
};

const bins = (xs: number[], width: number, count: number): string => {
  const b = new Array<number>(count).fill(0);
  for (const x of xs) b[Math.min(count - 1, Math.floor(x / width))]++;
  return b.join(' ');
};

const main = async (): Promise<void> => {
  const side = await startSideBySide(
    process.argv[2] ?? ROOT,
    process.env.BENCH_CONFIGS ?? 'default',
    BENCH_KEY,
  );
  const targets: Target[] = [side.bare, ...side.gateways];
  for (const t of targets) await warmUp(t);
  const seconds = envNumber('BENCH_SECONDS', 10);
  const periods = (process.env.BENCH_PERIODS_MS ?? '100,500,1000,5000').split(',').map(Number);
  for (const t of targets) {
    const { start, ms } = await sequential(t, seconds);
    const sorted = [...ms].sort((a, b) => a - b);
    const p50 = quantile(sorted, 0.5);
    const slowMs = envNumber('BENCH_SLOW_MS', 0) || 3 * p50;
    const slow = ms.flatMap((m, i) => (m > slowMs ? [i] : []));
    const gaps = slow.slice(1).map((i, j) => start[i] - start[slow[j]]);
    const lines = [
      `${t.name}: ${ms.length} requests, p50 ${round(p50, 3)} p99 ${round(quantile(sorted, 0.99), 3)} ms; ` +
        `${slow.length} above ${round(slowMs, 2)} ms (${round((100 * slow.length) / ms.length, 2)}%), ` +
        `their median ${round(
          quantile(
            slow.map((i) => ms[i]).sort((a, b) => a - b),
            0.5,
          ),
          2,
        )} ms`,
      `  gaps between slow ones, 10 ms bins 0..200+: ${bins(gaps, 10, 21)}`,
      ...periods.map(
        (p) =>
          `  phase in ${p} ms, 10 bins: ${bins(
            slow.map((i) => (start[i] - start[0]) % p),
            p / 10,
            10,
          )}`,
      ),
      `  slow runs (consecutive slow requests): ${slow.filter((i, j) => j > 0 && slow[j - 1] === i - 1).length} of ${slow.length} follow another`,
    ];
    log(lines.join('\n'));
  }
};

if (require.main === module)
  main()
    .catch((e: unknown) => {
      process.stderr.write(`tail-timeline failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      process.exit();
    });
