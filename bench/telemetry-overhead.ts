import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { Topics } from '@keygate/contracts';
import { createKafka } from '@keygate/messaging';
import { startMockProvider } from '@keygate/testing/mock-provider/mock-provider';
import { api } from '@keygate/testing/stack/api-client';
import { createKey } from '@keygate/testing/stack/key-fixtures';
import { dropDatabase, ensurePostgres, waitFor } from '@keygate/stack';
import {
  ensureTestInfra,
  freeTestPort,
  KAFKA_BROKERS,
  ROOT,
  stopTestInfra,
  type TestStack,
} from '@keygate/testing/stack/test-stack';
import { envNumber } from './lib/processes';
import { median } from './lib/load';

// bench:telemetry-overhead — what tracing costs a gateway request. Two gateways built from the same dist/, one
// with OpenTelemetry off (OTEL_SDK_DISABLED=true), one exporting every span and metric over OTLP to a local sink
// that discards them, take the same chat completions (a key with a rate limit, so auth, limiter and upstream all
// run) against the mock provider. Rounds alternate off/on so drift hits both. Never a timed test (STYLE.md).
//   npm run build && node dist/bench/telemetry-overhead.js
//   BENCH_CONNECTIONS=16 BENCH_SECONDS=10 BENCH_ROUNDS=3

const CONNECTIONS = envNumber('BENCH_CONNECTIONS', 16);
const SECONDS = envNumber('BENCH_SECONDS', 10);
const ROUNDS = envNumber('BENCH_ROUNDS', 3);
const TARGET_ADDED_P99_MS = 1;
interface LoadResult {
  latency: { average: number; p50: number; p90: number; p99: number };
  requests: { average: number; total: number };
  non2xx: number;
  errors: number;
}

const round = (x: number) => Math.round(x * 100) / 100;

interface Service {
  stop(): Promise<void>;
}

// One built service as a process with the bench's environment plus overrides, ready when readyUrl answers 200.
const startService = async (
  env: Record<string, string>,
  logDir: string,
  app: 'key-service' | 'gateway',
  overrides: Record<string, string>,
  readyUrl: string,
): Promise<Service> => {
  const logFile = join(logDir, `${app}-${randomBytes(2).toString('hex')}.log`);
  const child = spawn(process.execPath, [join(ROOT, 'dist', 'apps', app, 'src', 'main.js')], {
    cwd: ROOT,
    env: { ...process.env, ...env, ...overrides },
    stdio: ['ignore', openSync(logFile, 'w'), openSync(logFile, 'a')],
    detached: true,
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      /* gone */
    }
    await exited;
  };
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`${app} exited (${child.exitCode}); see ${logFile}`);
      return (await fetch(readyUrl).catch(() => null))?.ok ?? false;
    },
    { timeoutMs: 60_000, intervalMs: 200, what: `${app} ready at ${readyUrl}` },
  ).catch(async (e: unknown) => {
    await stop();
    throw e;
  });
  return { stop };
};

// An OTLP endpoint that accepts and drops everything: the exporter's full cost, none of a collector's.
const startSink = async () => {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
};

const main = async (): Promise<void> => {
  const run = randomBytes(4).toString('hex');
  await ensureTestInfra();
  const mock = await startMockProvider({ maxRecorded: 0 });
  const sink = await startSink();
  const keysDb = `postgres://postgres@127.0.0.1:5432/keygate_keys_bench_${run}`;
  await ensurePostgres([keysDb], () => undefined);
  const [keysPort, grpcPort, offPort, onPort] = await Promise.all([
    freeTestPort(),
    freeTestPort(),
    freeTestPort(),
    freeTestPort(),
  ]);
  const logDir = join(ROOT, '.stack', `bench-telemetry-${run}`);
  mkdirSync(logDir, { recursive: true });
  const adminToken = `kgadm_bench_${randomBytes(16).toString('hex')}`;
  const stack = {
    adminToken,
    keyServiceUrl: `http://127.0.0.1:${keysPort}`,
    gatewayUrl: `http://127.0.0.1:${offPort}`,
    logDir,
    env: {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      ADMIN_TOKEN: adminToken,
      KEYGATE_MASTER_KEY: randomBytes(32).toString('base64'),
      KAFKA_BROKERS: KAFKA_BROKERS.join(','),
      KEYS_DATABASE_URL: keysDb,
      REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/1',
      KEY_SERVICE_HTTP_PORT: String(keysPort),
      KEY_SERVICE_GRPC_PORT: String(grpcPort),
      OPENAI_BASE_URL: `${mock.url}/v1`,
      AZURE_OPENAI_ENDPOINT: mock.url,
      GEMINI_BASE_URL: mock.url,
      OPENAI_API_KEY: 'mock-openai',
      // The mock provider listens on loopback, which the gateway connects to only when allowed.
      ALLOW_PRIVATE_UPSTREAMS: 'true',
      AZURE_OPENAI_API_KEY: 'mock-azure',
      GEMINI_API_KEY: 'mock-gemini',
      OTEL_SDK_DISABLED: 'true',
    },
  } as unknown as TestStack;

  const services: Service[] = [];
  try {
    services.push(
      await startService(stack.env, logDir, 'key-service', {}, `${stack.keyServiceUrl}/health/ready`),
    );
    // Fresh projection groups start at the end of keys.events: a replay of every earlier event would run during
    // the measurement (and, traced, cost one span per event).
    const admin = createKafka(`bench-telemetry-${run}`, KAFKA_BROKERS).admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(Topics.keysEvents);
    for (const port of [offPort, onPort])
      await admin.setOffsets({
        groupId: `gateway-bench-${run}-${port}`,
        topic: Topics.keysEvents,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    await admin.disconnect();
    const gateway = (port: number, otel: Record<string, string>) =>
      startService(
        stack.env,
        logDir,
        'gateway',
        { GATEWAY_PORT: String(port), GATEWAY_PROJECTION_GROUP: `gateway-bench-${run}-${port}`, ...otel },
        `http://127.0.0.1:${port}/health/ready`,
      );
    services.push(
      ...(await Promise.all([
        gateway(offPort, { OTEL_SDK_DISABLED: 'true' }),
        gateway(onPort, {
          OTEL_SDK_DISABLED: 'false',
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
          OTEL_METRIC_EXPORT_INTERVAL: '5000',
        }),
      ])),
    );
    const key = await createKey(stack, {
      routes: ['gpt-4o-mini'],
      key: { rateLimit: { requestsPerMinute: 10_000_000 } },
    });
    const gateways = { off: `http://127.0.0.1:${offPort}`, on: `http://127.0.0.1:${onPort}` };
    for (const url of Object.values(gateways)) {
      const models = await api(url, key.key)('GET', '/v1/models');
      if (models.status !== 200) throw new Error(`gateway at ${url} does not know the key yet`);
    }

    const load = (url: string, duration: number): Promise<LoadResult> =>
      autocannon({
        url: `${url}/v1/chat/completions`,
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'how fast is this' }],
        }),
        connections: CONNECTIONS,
        duration,
      });
    process.stdout.write(`warm-up (5 s each)…\n`);
    await load(gateways.off, 5);
    await load(gateways.on, 5);

    // The gateway's own CPU per request, from its /metrics: robust to a noisy machine, unlike latency.
    const cpuSeconds = async (url: string): Promise<number> => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return Number(/^process_cpu_seconds_total (\S+)$/m.exec(text)?.[1] ?? NaN);
    };
    const results: Record<'off' | 'on', LoadResult[]> = { off: [], on: [] };
    const cpuUs: Record<'off' | 'on', number[]> = { off: [], on: [] };
    for (let r = 1; r <= ROUNDS; r++) {
      for (const mode of (r % 2 ? ['off', 'on'] : ['on', 'off']) as ('off' | 'on')[]) {
        const cpu0 = await cpuSeconds(gateways[mode]);
        const res = await load(gateways[mode], SECONDS);
        const cpu = ((await cpuSeconds(gateways[mode])) - cpu0) / res.requests.total;
        results[mode].push(res);
        cpuUs[mode].push(cpu * 1e6);
        process.stdout.write(
          `round ${r} ${mode.padEnd(3)}: ${Math.round(res.requests.average)} req/s, p50 ${res.latency.p50} ms, ` +
            `p99 ${res.latency.p99} ms, CPU ${Math.round(cpu * 1e6)} µs/request, non-2xx ${res.non2xx}, ` +
            `errors ${res.errors}\n`,
        );
      }
    }
    const summary = (rs: LoadResult[], cpu: number[]) => ({
      cpuUsPerRequest: Math.round(median(cpu)),
      reqPerSec: round(median(rs.map((r) => r.requests.average))),
      meanMs: round(median(rs.map((r) => r.latency.average))),
      p50Ms: round(median(rs.map((r) => r.latency.p50))),
      p90Ms: round(median(rs.map((r) => r.latency.p90))),
      p99Ms: round(median(rs.map((r) => r.latency.p99))),
      non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      errors: rs.reduce((n, r) => n + r.errors, 0),
    });
    const off = summary(results.off, cpuUs.off);
    const on = summary(results.on, cpuUs.on);
    const added = {
      cpuUsPerRequest: on.cpuUsPerRequest - off.cpuUsPerRequest,
      meanMs: round(on.meanMs - off.meanMs),
      p50Ms: round(on.p50Ms - off.p50Ms),
      p99Ms: round(on.p99Ms - off.p99Ms),
      throughputPct: round(((on.reqPerSec - off.reqPerSec) / off.reqPerSec) * 100),
    };
    const report = {
      bench: 'telemetry-overhead',
      at: new Date().toISOString(),
      connections: CONNECTIONS,
      seconds: SECONDS,
      rounds: ROUNDS,
      off,
      on,
      added,
      otlpRequestsReceived: sink.requests(),
      target: { addedP99Ms: TARGET_ADDED_P99_MS, pass: added.p99Ms <= TARGET_ADDED_P99_MS },
    };
    process.stdout.write(
      `\n              off        on      added\n` +
        `CPU µs  ${String(off.cpuUsPerRequest).padStart(10)} ${String(on.cpuUsPerRequest).padStart(9)} ${String(added.cpuUsPerRequest).padStart(9)}\n` +
        `req/s   ${String(off.reqPerSec).padStart(10)} ${String(on.reqPerSec).padStart(9)} ${`${added.throughputPct}%`.padStart(9)}\n` +
        `mean ms ${String(off.meanMs).padStart(10)} ${String(on.meanMs).padStart(9)} ${String(added.meanMs).padStart(9)}\n` +
        `p50 ms  ${String(off.p50Ms).padStart(10)} ${String(on.p50Ms).padStart(9)} ${String(added.p50Ms).padStart(9)}\n` +
        `p99 ms  ${String(off.p99Ms).padStart(10)} ${String(on.p99Ms).padStart(9)} ${String(added.p99Ms).padStart(9)}` +
        `   (target ≤ ${TARGET_ADDED_P99_MS} ms: ${report.target.pass ? 'pass' : 'FAIL'})\n`,
    );
    const dir = join(ROOT, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `telemetry-overhead-${report.at.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`written to ${file}\n`);
  } finally {
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all([mock.close(), sink.close()]);
    await dropDatabase(keysDb).catch(() => undefined);
    await stopTestInfra();
  }
};

main().catch((e: unknown) => {
  process.stderr.write(`telemetry-overhead bench failed: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
