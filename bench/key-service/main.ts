import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { KAFKA_BROKERS } from '@keygate/testing/stack/test-stack';
import { cpuUse, sampleCpu, type CpuSample } from './bench-cpu';
import { startLagProbe } from './bench-lag';
import { REPO_ROOT, startBenchService, type BenchService } from './bench-service';
import { envNumber } from '../lib/processes';

// bench:key-service — creates/s with 32 concurrent clients (POST /v1/keys over keep-alive connections) and the
// outbox publish lag (event created_at → received from keys.events), against a key-service started for the
// run. Never a timed test (STYLE.md): it prints figures and writes them to bench/results/.
//   node dist/bench/key-service/main.js        (after npm run build)
//   BENCH_CLIENTS=32 BENCH_SECONDS=20 BENCH_WARMUP_SECONDS=3 BENCH_LOG_LEVEL=info

const CLIENTS = envNumber('BENCH_CLIENTS', 32);
const SECONDS = envNumber('BENCH_SECONDS', 20);
const WARMUP_SECONDS = envNumber('BENCH_WARMUP_SECONDS', 3);
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL ?? 'info';
const TARGETS = { createsPerSecond: 1000, lagP99Ms: 200 };

const percentile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

const summary = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    count: s.length,
    p50: r(percentile(s, 0.5)),
    p90: r(percentile(s, 0.9)),
    p99: r(percentile(s, 0.99)),
    max: r(s[s.length - 1] ?? NaN),
  };
};

interface LoadResult {
  cpu: { from: CpuSample; to: CpuSample };
  measuredIds: string[];
  latenciesMs: number[];
  errors: Record<string, number>;
  seconds: number;
}

// CLIENTS loops, each one request at a time; only requests started after the warm-up are counted.
const generateLoad = async (service: BenchService, ownerId: string): Promise<LoadResult> => {
  const pool = new Pool(service.url, { connections: CLIENTS, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { authorization: `Bearer ${service.adminToken}`, 'content-type': 'application/json' };
  const measureFrom = performance.now() + WARMUP_SECONDS * 1000;
  const end = measureFrom + SECONDS * 1000;
  const result = { measuredIds: [], latenciesMs: [], errors: {}, seconds: SECONDS } as unknown as LoadResult;
  const sampling = setTimeout(
    () =>
      (result.cpu = {
        from: sampleCpu(service.pid, new URL(service.databaseUrl).pathname.slice(1)),
        to: sampleCpu(service.pid, new URL(service.databaseUrl).pathname.slice(1)),
      }),
    WARMUP_SECONDS * 1000,
  );
  let n = 0;
  const client = async (c: number): Promise<void> => {
    while (performance.now() < end) {
      const started = performance.now();
      const measured = started >= measureFrom;
      const body = JSON.stringify({ name: `bench ${c}-${n++}`, ownerId });
      try {
        const res = await pool.request({ method: 'POST', path: '/v1/keys', headers, body });
        const json = (await res.body.json()) as { id?: string };
        if (!measured) continue;
        if (res.statusCode === 201 && json.id) {
          result.measuredIds.push(json.id);
          result.latenciesMs.push(performance.now() - started);
        } else result.errors[`HTTP ${res.statusCode}`] = (result.errors[`HTTP ${res.statusCode}`] ?? 0) + 1;
      } catch (e) {
        if (measured) result.errors[(e as Error).message] = (result.errors[(e as Error).message] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  clearTimeout(sampling);
  result.cpu.to = sampleCpu(service.pid, new URL(service.databaseUrl).pathname.slice(1));
  await pool.close();
  return result;
};

const gitCommit = (): string | null => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
  } catch {
    return null;
  }
};

const main = async (): Promise<void> => {
  const run = randomBytes(4).toString('hex');
  const ownerId = `bench-${run}`;
  process.stdout.write(`key-service bench ${run}: starting a key-service (LOG_LEVEL=${LOG_LEVEL})…\n`);
  const service = await startBenchService(run, LOG_LEVEL);
  const probe = await startLagProbe(run, ownerId, KAFKA_BROKERS).catch(async (e: unknown) => {
    await service.stop();
    throw e;
  });
  try {
    process.stdout.write(
      `load: ${CLIENTS} clients, ${WARMUP_SECONDS} s warm-up + ${SECONDS} s measured, POST /v1/keys\n`,
    );
    const load = await generateLoad(service, ownerId);
    // Every measured key must show up on keys.events; wait for the stragglers, then count what is missing.
    const deadline = Date.now() + 30_000;
    const missing = () => load.measuredIds.filter((id) => !probe.lags.has(id)).length;
    while (missing() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    const creates = load.measuredIds.length;
    const createsPerSecond = Math.round((creates / load.seconds) * 10) / 10;
    const lag = summary(load.measuredIds.filter((id) => probe.lags.has(id)).map((id) => probe.lags.get(id)!));
    const latency = summary(load.latenciesMs);
    const errors = Object.values(load.errors).reduce((a, b) => a + b, 0);
    const cpu = cpuUse(load.cpu.from, load.cpu.to, creates, cpus().length);
    const pass = {
      createsPerSecond: createsPerSecond >= TARGETS.createsPerSecond,
      lagP99: lag.p99 <= TARGETS.lagP99Ms && missing() === 0,
    };
    const rows: [string, string, string][] = [
      [
        'creates/s',
        `${createsPerSecond}`,
        `≥ ${TARGETS.createsPerSecond} ${pass.createsPerSecond ? 'PASS' : 'MISS'}`,
      ],
      ['creates (measured)', `${creates} in ${load.seconds} s`, `errors ${errors}`],
      [
        'create latency ms',
        `p50 ${latency.p50}  p90 ${latency.p90}  p99 ${latency.p99}`,
        `max ${latency.max}`,
      ],
      ['publish lag ms', `p50 ${lag.p50}  p90 ${lag.p90}  p99 ${lag.p99}`, `max ${lag.max}`],
      ['lag target', `p99 ≤ ${TARGETS.lagP99Ms} ms`, pass.lagP99 ? 'PASS' : 'MISS'],
      ['events received', `${creates - missing()} / ${creates}`, missing() ? `${missing()} missing` : 'all'],
      [
        'CPU ms per create',
        `service ${cpu.msPerCreate.service}  postgres ${cpu.msPerCreate.postgres}  kafka ${cpu.msPerCreate.kafka}`,
        '',
      ],
      [
        'machine busy',
        `${Math.round(cpu.machineBusyShare * 100)} % of ${cpus().length} CPUs`,
        `${Math.round(cpu.othersShare * 100)} % by other processes`,
      ],
    ];
    const w0 = Math.max(...rows.map((r) => r[0].length));
    const w1 = Math.max(...rows.map((r) => r[1].length));
    process.stdout.write(
      `\n${rows.map(([a, b, c]) => `  ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`).join('\n')}\n` +
        (errors ? `  errors: ${JSON.stringify(load.errors)}\n` : ''),
    );

    const record = {
      bench: 'key-service',
      run,
      at: new Date().toISOString(),
      commit: gitCommit(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavg: loadavg() },
      config: { clients: CLIENTS, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS, logLevel: LOG_LEVEL },
      results: {
        creates,
        createsPerSecond,
        errors: load.errors,
        createLatencyMs: latency,
        publishLagMs: lag,
      },
      missingEvents: missing(),
      targets: TARGETS,
      pass,
    };
    const dir = join(REPO_ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `key-service-${record.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
    process.stdout.write(`\nwrote ${file}\nservice log: ${service.logFile}\n`);
  } finally {
    await probe.stop().catch(() => undefined);
    await service.stop();
  }
};

main().catch((e: unknown) => {
  process.stderr.write(`key-service bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
