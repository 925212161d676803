import { BENCH_KEY } from './lib/keygate';
import { measureTtft, runLoad, warmUp, type Target } from './lib/load';
import { cleanup, envNumber, log } from './lib/processes';
import { startSideBySide } from './lib/side-by-side';

// An earlier build's gateway beside this one in a closed loop: every target in turn at BENCH_CONNECTIONS
// keep-alive connections (autocannon), round after round, each cell's requests answered, latency and CPU µs per
// request of the process. `ab-gateway.js` loads every target at once at a low open-loop rate, where each request
// pays its own wake-ups and no call queues behind another; this one measures the regimes of `npm run bench` (c=1,
// c=10, c=100), where concurrency changes what a change is worth (session 12: batching every Redis call cost CPU
// at c=1 and c=10 and saved it at c=100). Rounds alternate the targets, so a slow minute of the host meets all.
//   node dist/bench/closed-loop-ab.js /tmp/before     BENCH_CONNECTIONS=10 BENCH_ROUNDS=4 BENCH_SECONDS=5
//   BENCH_CONFIGS=default (as ab-gateway.js: default, traced, unsampled, ratio0, nopush, off)
//   BENCH_KEY_KIND=full (default: every feature on, as npm run bench), plain (no limit, no budget: no Redis
//   call), rate-limit, budget
//   BENCH_TTFT_SAMPLES=n: each cell is n sequential streams instead (time to first body bytes, as npm run bench)

const KEYS: Record<string, Record<string, unknown>> = {
  full: BENCH_KEY,
  plain: {},
  'rate-limit': { rateLimit: BENCH_KEY.rateLimit },
  budget: { budget: BENCH_KEY.budget },
};

const main = async (): Promise<void> => {
  const before = process.argv[2];
  if (!before) throw new Error('usage: node dist/bench/closed-loop-ab.js <root of the earlier build>');
  const keyKind = process.env.BENCH_KEY_KIND ?? 'full';
  if (!KEYS[keyKind]) throw new Error(`BENCH_KEY_KIND must be one of ${Object.keys(KEYS).join(', ')}`);
  const side = await startSideBySide(before, process.env.BENCH_CONFIGS ?? 'default', KEYS[keyKind]);
  const targets: Target[] = [side.floor, side.bare, ...side.gateways];
  for (const t of targets) await warmUp(t);
  const connections = envNumber('BENCH_CONNECTIONS', 10);
  const rounds = envNumber('BENCH_ROUNDS', 4);
  const seconds = envNumber('BENCH_SECONDS', 5);
  const ttftSamples = envNumber('BENCH_TTFT_SAMPLES', 0);
  const measure = async (t: Target): Promise<string> => {
    if (ttftSamples) {
      const s = await measureTtft(t, ttftSamples);
      return `TTFT p50 ${s.p50} p99 ${s.p99} ms${s.errors ? `, ${s.errors} errors` : ''}`;
    }
    const s = await runLoad(t, connections, seconds);
    return (
      `${s.requests} requests, p50 ${s.p50} p90 ${s.p90} p99 ${s.p99} ms, ` +
      `CPU ${s.cpuUsPerRequest ?? '-'} µs/request${s.errors ? `, ${s.errors} errors` : ''}`
    );
  };
  const cells = new Map<string, string[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++)
    for (const t of targets) {
      const cell = await measure(t);
      log(`round ${r + 1}, ${t.name}: ${cell}`);
      cells.get(t.name)!.push(cell);
    }
  process.stdout.write(
    `\n${ttftSamples ? `${ttftSamples} streams` : `c=${connections}, ${seconds} s`} per cell, ${rounds} rounds, key: ${keyKind}\n` +
      [...cells].map(([name, xs]) => `${name}\n  ${xs.join('\n  ')}`).join('\n') +
      '\n',
  );
};

if (require.main === module)
  main()
    .catch((e: unknown) => {
      process.stderr.write(`closed-loop-ab failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      process.exit();
    });
