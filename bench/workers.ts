import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BENCH_KEY, startKeygate } from './lib/keygate';
import { runLoad, warmUp, type LoadStats, type Target } from './lib/load';
import { startGatewayInfra } from './lib/private-infra';
import { BENCH_STACK_DIR, cleanup, envNumber, log } from './lib/processes';
import { load, machine, machineLine, textTable, writeResult } from './lib/report';

// npm run bench:workers — the gateway's throughput with GATEWAY_WORKERS=1 and with GATEWAY_WORKERS=N (default:
// the cores) on one machine, same key (every feature on: bench/lib/keygate.ts), same mock, tracing off. The two
// gateways run side by side and are measured in turn, closed loop, at each concurrency, several rounds
// interleaved so that a noisy minute hits both. Environment: BENCH_SECONDS (10) per cell, BENCH_ROUNDS (2),
// BENCH_WORKERS (the cores).

const SECONDS = envNumber('BENCH_SECONDS', 10);
const ROUNDS = envNumber('BENCH_ROUNDS', 2);
const WORKERS = envNumber('BENCH_WORKERS', 0);
const CONCURRENCY = [10, 100];

const main = async (): Promise<void> => {
  const run = randomBytes(4).toString('hex');
  const logDir = join(BENCH_STACK_DIR, `bench-${run}`, 'logs');
  const m = machine();
  const many = String(WORKERS || m.nproc);
  log(`run ${run} on ${machineLine(m)}; load ${load().loadavg.join(' ')}; logs in ${logDir}`);
  const infra = await startGatewayInfra(run, logDir);
  const keygate = await startKeygate({
    ...infra.keygate,
    gateways: 2,
    perGatewayEnv: [{ GATEWAY_WORKERS: '1' }, { GATEWAY_WORKERS: many }],
  });
  const groupId = await keygate.createGroup(['gpt-4o-mini']);
  const key = await keygate.createKey({ groupIds: [groupId], ...BENCH_KEY });
  await keygate.waitForRoute(key.key, 'gpt-4o-mini');
  const targets: Target[] = ['1', many].map((w, i) => ({
    name: `${w} worker${w === '1' ? '' : 's'}`,
    url: `${keygate.gatewayUrls[i]}/v1/chat/completions`,
    headers: { authorization: `Bearer ${key.key}` },
  }));
  for (const t of targets) await warmUp(t);

  const cells: Record<string, Record<number, LoadStats[]>> = {};
  for (let round = 0; round < ROUNDS; round++)
    for (const c of CONCURRENCY)
      for (const t of targets) {
        const s = await runLoad(t, c, SECONDS);
        ((cells[t.name] ??= {})[c] ??= []).push(s);
        log(
          `round ${round + 1} c=${c} ${t.name}: ${s.rps} req/s, p50 ${s.p50} p99 ${s.p99} ms, errors ${s.errors}`,
        );
      }
  const best = (name: string, c: number): LoadStats =>
    cells[name][c].reduce((a, b) => (b.rps > a.rps ? b : a));
  const rows = [['connections', ...targets.map((t) => `${t.name} req/s (p50 / p99 ms)`), 'ratio']];
  for (const c of CONCURRENCY) {
    const [one, n] = targets.map((t) => best(t.name, c));
    rows.push([
      String(c),
      ...[one, n].map((s) => `${s.rps} (${s.p50} / ${s.p99})`),
      `${(n.rps / one.rps).toFixed(2)}×`,
    ]);
  }
  process.stdout.write(
    `\n${textTable(rows)}\n(best of ${ROUNDS} rounds of ${SECONDS} s; load ${load().loadavg.join(' ')})\n`,
  );
  log(
    `result: ${writeResult(`workers-${run}`, { bench: 'workers', run, machine: m, workers: many, seconds: SECONDS, cells })}`,
  );
};

main()
  .catch((e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    process.exit();
  });
