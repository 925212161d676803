import { BENCH_KEY } from './lib/keygate';
import { cpuAtRate, usPerRequest, warmUp, type Target, type ThreadTicks } from './lib/load';
import { cleanup, envNumber, log } from './lib/processes';
import { startSideBySide } from './lib/side-by-side';
import { load } from './lib/report';

// An earlier build's gateway beside this one, on the same key, Redis, Kafka and mock: CPU µs per request of each
// configuration as a ratio to the bare proxy's. Every target is loaded at once, each at the same open-loop rate far
// below saturation, so all of them meet the same machine in the same window (its other tenants, its frequency):
// run one after another, two rounds of one build differed 1.6-2x here; side by side, a few percent.
//   git archive <commit> | tar -x -C /tmp/before && ln -s $PWD/node_modules /tmp/before/ && (cd /tmp/before &&
//   npx tsc -p tsconfig.build.json && npx tsc-alias -p tsconfig.build.json)
//   npm run build && node dist/bench/ab-gateway.js /tmp/before     BENCH_ROUNDS=6 BENCH_SECONDS=5 BENCH_RATE=150
//   BENCH_CONFIGS=default,traced,off (the default; also unsampled, ratio0, nopush): which telemetry configurations of each build to load
// Printed: each round's ratios to the bare proxy and their medians; then each target's CPU per request over all
// rounds by thread (main, V8's GC and compiler helpers, worker threads) and after ÷ before per configuration, the
// steadier figure (no ratio to the bare proxy's few ticks in it). The rate is per target, requests per second; at
// a low rate each request pays its own wake-ups, which a saturated gateway shares between requests (npm run bench
// measures that regime, c=10 closed loop).

const main = async (): Promise<void> => {
  const before = process.argv[2];
  if (!before) throw new Error('usage: node dist/bench/ab-gateway.js <root of the earlier build>');
  const side = await startSideBySide(before, process.env.BENCH_CONFIGS ?? 'default,traced,off', BENCH_KEY);
  const targets: Target[] = [side.bare, ...side.gateways];
  // All at once and right before the rounds: a gateway left idle while the others warm up has V8 shed part of
  // what it optimized, and the rounds pay its compiler threads again.
  await Promise.all(targets.map((t) => warmUp(t)));
  const rounds = envNumber('BENCH_ROUNDS', 6);
  const seconds = envNumber('BENCH_SECONDS', 5);
  const rate = envNumber('BENCH_RATE', 150);
  const ratios = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const totals = new Map(
    targets.map((t) => [t.name, { requests: 0, ticks: { main: 0, v8: 0, workers: 0, other: 0 } }]),
  );
  const loads: string[] = [load().loadavg.join(' ')];
  for (let r = 0; r < rounds; r++) {
    const runs = await Promise.all(targets.map((t) => cpuAtRate(t, rate, seconds)));
    const cpu = runs.map((x) => usPerRequest(sum(x.ticks), x.requests));
    targets.forEach((t, i) => {
      ratios.get(t.name)!.push(cpu[i] / cpu[0]);
      const total = totals.get(t.name)!;
      total.requests += runs[i].requests;
      for (const k of Object.keys(total.ticks) as (keyof ThreadTicks)[]) total.ticks[k] += runs[i].ticks[k];
    });
    log(
      `round ${r + 1}, CPU µs/request: ${targets.map((t, i) => `${t.name} ${cpu[i].toFixed(0)}`).join(', ')}`,
    );
    loads.push(load().loadavg.join(' '));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(
    `\n${rate} req/s to each target at once, ${rounds} rounds of ${seconds} s; load ${loads.join(' → ')}\n` +
      'target | CPU µs/request ÷ bare-proxy in the same round (median; rounds)\n',
  );
  for (const t of targets.slice(1)) {
    const xs = ratios.get(t.name)!;
    process.stdout.write(
      `${t.name} | ${median(xs).toFixed(2)}× (${xs.map((x) => x.toFixed(2)).join(', ')})\n`,
    );
  }
  // Over all rounds, by thread: a window of rounds × seconds moves less than one round's, and no ratio to the bare
  // proxy's few ticks (its noise) enters. Two gateways of one build agree within a few percent here.
  const us = (name: string) => {
    const { requests, ticks } = totals.get(name)!;
    return {
      total: usPerRequest(sum(ticks), requests),
      ...mapValues(ticks, (v) => usPerRequest(v, requests)),
    };
  };
  process.stdout.write(
    '\ntarget | CPU µs/request over all rounds: total (main thread, V8 helpers: GC and compiler, worker threads, other)\n',
  );
  for (const t of targets) {
    const u = us(t.name);
    process.stdout.write(
      `${t.name} | ${u.total.toFixed(0)} (${u.main.toFixed(0)}, ${u.v8.toFixed(0)}, ${u.workers.toFixed(0)}, ${u.other.toFixed(0)})\n`,
    );
  }
  for (const name of side.configurations)
    process.stdout.write(
      `after ÷ before, ${name}: ${(us(`after, ${name}`).total / us(`before, ${name}`).total).toFixed(3)}\n`,
    );
};

const sum = (t: ThreadTicks): number => t.main + t.v8 + t.workers + t.other;
const mapValues = <T extends Record<string, number>>(o: T, f: (v: number) => number): T =>
  Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)])) as T;

if (require.main === module)
  main()
    .catch((e: unknown) => {
      process.stderr.write(`ab-gateway failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      process.exit();
    });
