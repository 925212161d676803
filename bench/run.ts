import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildTables, type GatewayBench, type SearchStep } from './lib/gateway-table';
import { BENCH_KEY, startKeygate, startOtlpSink } from './lib/keygate';
import { measureTtft, runLoad, warmUp, WARMUP_SECONDS, type LoadStats, type Target } from './lib/load';
import { findPortkey, startPortkey } from './lib/peer';
import { benchDatabase, startGatewayInfra } from './lib/private-infra';
import {
  BENCH_STACK_DIR,
  cleanup,
  envNodeArgs,
  envNumber,
  log,
  ROOT,
  rssMiB,
  startBareProxy,
} from './lib/processes';
import {
  load,
  machine,
  machineLine,
  markdownTable,
  stamp,
  textTable,
  updateReadme,
  writeResult,
} from './lib/report';

// npm run bench — what a gateway costs per request, side by side on one machine, against one local mock provider
// (instant, then 20 ms): the mock called directly (the floor), Portkey's gateway (@portkey-ai/gateway) and
// keygate's gateway with auth, rate limit, usage events and telemetry on. Never a timed test (STYLE.md).
// Environment: BENCH_SECONDS (10) per latency cell, BENCH_SEARCH_SECONDS (5) per throughput step,
// BENCH_TTFT_SAMPLES (200), BENCH_TELEMETRY=off to measure keygate without tracing, BENCH_USAGE_SERVICE=1 to run a
// usage-service consuming the events meanwhile, BENCH_PORTKEY_DIR where @portkey-ai/gateway is installed when it is
// not in node_modules, BENCH_GATEWAY_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=.stack/prof") to profile.

const SECONDS = envNumber('BENCH_SECONDS', 10);
const SEARCH_SECONDS = envNumber('BENCH_SEARCH_SECONDS', 5);
const TTFT_SAMPLES = envNumber('BENCH_TTFT_SAMPLES', 200);
const CPU_PASSES = envNumber('BENCH_CPU_PASSES', 3);
const CONCURRENCY = [1, 10, 100];
const MOCK_LATENCIES = [0, 20];
const SEARCH_CONNECTIONS = [1, 2, 4, 8, 16, 32, 64, 128];
const TELEMETRY = process.env.BENCH_TELEMETRY !== 'off';
// `keygate` runs the shipped default: tracing on (an OTLP endpoint set) with the default sampler, parent-based at
// 0.1. Further keygate gateways in the same run, same key: "traced" traces every request
// (OTEL_TRACES_SAMPLER=parentbased_always_on), "sampled" 1% of them, "notrace" turns tracing off (metrics stay on).
type Variant = 'traced' | 'sampled' | 'notrace';
const VARIANTS = (process.env.BENCH_KEYGATE_VARIANTS ?? 'traced,notrace')
  .split(',')
  .filter((v): v is Variant => v === 'traced' || v === 'sampled' || v === 'notrace');
const WITH_USAGE_SERVICE = process.env.BENCH_USAGE_SERVICE === '1';
export const P99_LIMIT_MS = 10;
const KEY_FEATURES =
  'a rate limit of 10,000,000 req/min and 1,000,000,000 tokens/min, a budget of 1,000,000 USD a month, an IP allow list';
export const ERROR_LIMIT = 0.001;

const setMockLatency = async (mockUrl: string, ms: number): Promise<void> => {
  const res = await fetch(`${mockUrl}/__mock/config`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ latencyMs: ms }),
  });
  if (!res.ok) throw new Error(`mock provider refused its latency: HTTP ${res.status}`);
};

// One request through each target before measuring: it must answer 200 (and keygate must have run its limiter).
const check = async (t: Target): Promise<Headers> => {
  const res = await fetch(t.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...t.headers },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] }),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${t.name} answered ${res.status}: ${text.slice(0, 300)}`);
  return res.headers;
};

// The highest request rate whose p99 stays under 10 ms with < 0.1% errors, over doubling connection counts.
const search = async (t: Target): Promise<SearchStep[]> => {
  const steps: SearchStep[] = [];
  for (const c of SEARCH_CONNECTIONS) {
    const s = await runLoad(t, c, SEARCH_SECONDS);
    const ok = s.p99 < P99_LIMIT_MS && s.errorRate < ERROR_LIMIT;
    steps.push({ ...s, ok });
    log(
      `  search ${t.name} c=${c}: ${s.rps} req/s, p99 ${s.p99} ms, errors ${s.errors} ${ok ? '' : '(over)'}`,
    );
    // Two steps over the line in a row: more connections only queue more.
    if (!ok && steps.length >= 2 && !steps[steps.length - 2].ok) break;
  }
  return steps;
};

const metric = (text: string, name: string): number => {
  let total = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) total += Number(m[1]);
  return total;
};

const main = async (): Promise<void> => {
  const run = randomBytes(4).toString('hex');
  const at = new Date().toISOString();
  const logDir = join(BENCH_STACK_DIR, `bench-${run}`, 'logs');
  const m = machine();
  const loadStart = load();
  log(`run ${run} on ${machineLine(m)}; load ${loadStart.loadavg.join(' ')}; logs in ${logDir}`);
  if (!existsSync(join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js')))
    throw new Error('dist/ is missing: run `npm run build` first (npm run bench does)');

  const infra = await startGatewayInfra(run, logDir);
  const { redis } = infra;
  const usageDb = WITH_USAGE_SERVICE ? await benchDatabase('usage', run) : undefined;
  const { proc: mock, url: mockUrl } = infra.mock;
  const sink = await startOtlpSink();

  log(
    `starting keygate (telemetry ${TELEMETRY ? 'on' : 'off'}${WITH_USAGE_SERVICE ? ', with usage-service' : ''}` +
      `${VARIANTS.length ? `; variants ${VARIANTS.join(', ')}` : ''})`,
  );
  const traced = {
    OTEL_SDK_DISABLED: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_SERVICE_NAME: 'gateway',
  };
  const variantEnv: Record<Variant, Record<string, string>> = {
    traced: { ...traced, OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
    sampled: { ...traced, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' },
    notrace: { OTEL_SDK_DISABLED: 'true' },
  };
  const keygate = await startKeygate({
    ...infra.keygate,
    usageDatabaseUrl: usageDb,
    gateways: 1 + VARIANTS.length,
    perGatewayEnv: [TELEMETRY ? traced : variantEnv.notrace, ...VARIANTS.map((v) => variantEnv[v])],
    gatewayNodeArgs: envNodeArgs('BENCH_GATEWAY_NODE_ARGS'),
  });
  const groupId = await keygate.createGroup(['gpt-4o-mini']);
  // Every feature on, none refusing: a rate limit far above what one machine can send and a budget far above
  // what it can spend (the admission and settlement scripts run on every request), an IP allow list.
  const key = await keygate.createKey({ groupIds: [groupId], ...BENCH_KEY });
  await keygate.waitForRoute(key.key, 'gpt-4o-mini');

  // The reference for what any proxy costs here (bench/lib/bare-proxy.ts): same mock, same Redis.
  const { proc: bare, url: bareUrl } = await startBareProxy(logDir, mockUrl, redis.url);

  const portkeyDir = findPortkey();
  const peer = portkeyDir ? await startPortkey(portkeyDir, logDir) : null;
  if (!peer)
    log(
      '@portkey-ai/gateway is not installed (devDependency, or BENCH_PORTKEY_DIR): measuring without the peer',
    );

  const targets: Target[] = [
    {
      name: 'floor',
      url: `${mockUrl}/v1/chat/completions`,
      headers: { authorization: 'Bearer mock-openai' },
      pid: mock.pid,
    },
    { name: 'bare-proxy', url: `${bareUrl}/v1/chat/completions`, headers: {}, pid: bare.pid },
    ...(peer
      ? [
          {
            name: 'portkey',
            url: `${peer.url}/v1/chat/completions`,
            headers: peer.headers(mockUrl),
            pid: peer.proc.pid,
          },
        ]
      : []),
    ...['keygate', ...VARIANTS.map((v) => `keygate-${v}`)].map((name, i) => ({
      name,
      url: `${keygate.gatewayUrls[i]}/v1/chat/completions`,
      headers: { authorization: `Bearer ${key.key}` },
      pid: keygate.gateways[i].pid,
    })),
  ];
  for (const t of targets) {
    const h = await check(t);
    if (t.name.startsWith('keygate') && !h.get('x-ratelimit-limit-requests'))
      throw new Error('keygate answered without x-ratelimit-* headers: the limiter did not run');
  }
  const gatewayRss = (): Record<string, number> =>
    Object.fromEntries(
      targets.filter((t) => t.name !== 'floor').map((t) => [t.name, rssMiB(t.pid!)]),
    ) as Record<string, number>;
  const rssIdle = gatewayRss();

  log(`warm-up (${WARMUP_SECONDS} s per target)`);
  for (const t of targets) await warmUp(t);

  const latency: GatewayBench['latency'] = [];
  for (const mockMs of MOCK_LATENCIES) {
    await setMockLatency(mockUrl, mockMs);
    for (const c of CONCURRENCY) {
      const cell: Record<string, LoadStats> = {};
      for (const t of targets) {
        cell[t.name] = await runLoad(t, c, SECONDS);
        const s = cell[t.name];
        log(
          `mock ${mockMs} ms c=${c} ${t.name}: ${s.rps} req/s p50 ${s.p50} p99 ${s.p99} p99.9 ${s.p999} ms, ` +
            `errors ${s.errors}, CPU ${s.cpuUsPerRequest ?? '-'} µs/req`,
        );
      }
      latency.push({ mockMs, connections: c, stats: cell });
    }
  }

  // CPU per request at c=10 again, every target in turn, CPU_PASSES times: one cell of a few seconds moved ±30%
  // here (a gateway measured slower than its own traced twice), so the verdict takes, per target, the median of
  // its ratio to the bare proxy measured just before it in each pass, the latency cell's included.
  await setMockLatency(mockUrl, 0);
  log(`CPU at c=10, mock instant: ${CPU_PASSES} more passes over every target`);
  const c10 = latency.find((c) => c.mockMs === 0 && c.connections === 10)!;
  const cpu: GatewayBench['cpu'] = Object.fromEntries(
    targets.map((t) => [t.name, [c10.stats[t.name].cpuUsPerRequest ?? NaN]]),
  );
  for (let pass = 0; pass < CPU_PASSES; pass++)
    for (const t of targets) cpu[t.name].push((await runLoad(t, 10, SECONDS)).cpuUsPerRequest ?? NaN);
  log(`CPU µs/request by pass: ${targets.map((t) => `${t.name} ${cpu[t.name].join('/')}`).join(', ')}`);

  log(`throughput search (mock instant, ${SEARCH_SECONDS} s per step)`);
  const throughput: GatewayBench['throughput'] = {};
  for (const t of targets) throughput[t.name] = await search(t);

  log(
    `streaming time to first token (${TTFT_SAMPLES} sequential streams per target, after as many unmeasured)`,
  );
  // The warm-up above is JSON chat: the first streams run each target's stream path cold (before 2026-12-05 the
  // measured ones did). Every target streams TTFT_SAMPLES times first, as the JSON cells run warm.
  for (const t of targets) await measureTtft(t, TTFT_SAMPLES);
  const ttft: GatewayBench['ttft'] = [];
  for (const mockMs of MOCK_LATENCIES) {
    await setMockLatency(mockUrl, mockMs);
    const row: GatewayBench['ttft'][number] = { mockMs, stats: {} };
    for (const t of targets) {
      row.stats[t.name] = await measureTtft(t, TTFT_SAMPLES);
      log(`  ttft mock ${mockMs} ms ${t.name}: ${JSON.stringify(row.stats[t.name])}`);
    }
    ttft.push(row);
  }

  const rssAfter = gatewayRss();
  const metrics = await (await fetch(`${keygate.gatewayUrls[0]}/metrics`)).text();
  const loadEnd = load();

  const result: GatewayBench = {
    bench: 'gateway',
    run,
    at,
    machine: m,
    load: { start: loadStart, end: loadEnd },
    config: {
      seconds: SECONDS,
      searchSeconds: SEARCH_SECONDS,
      ttftSamples: TTFT_SAMPLES,
      cpuPasses: CPU_PASSES,
      telemetry: TELEMETRY,
      variants: VARIANTS,
      keyFeatures: KEY_FEATURES,
      usageService: WITH_USAGE_SERVICE,
      p99LimitMs: P99_LIMIT_MS,
      errorLimit: ERROR_LIMIT,
      peer: peer
        ? { package: '@portkey-ai/gateway', version: peer.version, honoNodeServer: peer.honoNodeServer }
        : null,
    },
    targets: targets.map((t) => t.name),
    latency,
    cpu,
    throughput,
    ttft,
    rss: { idle: rssIdle, after: rssAfter },
    keygateEvidence: {
      usageEventsSent: metric(metrics, 'keygate_usage_events_sent_total'),
      usageEventsDropped: metric(metrics, 'keygate_usage_events_dropped_total'),
      rateLimiterRejections: metric(metrics, 'keygate_ratelimit_rejections_total'),
      otlpExportRequests: sink.requests(),
    },
  };
  const tables = buildTables(result);
  process.stdout.write(
    `\n${machineLine(m)}\nload (uptime) at start ${loadStart.loadavg.join(' ')}, at end ${loadEnd.loadavg.join(' ')}\n\n`,
  );
  process.stdout.write(`${textTable(tables.main)}\n\n${tables.notes.join('\n')}\n`);
  const file = writeResult(stamp(at), result);
  const readme = updateReadme('run', readmeBlock(result, tables.main, tables.notes));
  log(`wrote ${file} and ${readme}`);
};

const readmeBlock = (r: GatewayBench, rows: string[][], notes: string[]): string =>
  [
    `### Run ${r.at}`,
    '',
    `\`npm run bench\`, ${r.config.seconds} s per cell: ${machineLine(r.machine)}.`,
    `Load average (\`uptime\`) ${r.load.start.loadavg.join(' ')} at the start, ${r.load.end.loadavg.join(' ')} at the end.`,
    '',
    markdownTable(rows),
    '',
    ...notes.map((n) => `- ${n}`),
    '',
    `Raw figures: \`bench/results/${stamp(r.at)}.json\`.`,
  ].join('\n');

// node dist/bench/run.js --report bench/results/<date>.json…: prints those runs' tables and puts them in bench/README.md.
// Several files: each run's table, one after the other.
const report = (files: string[]): void => {
  const blocks = files.map((file) => {
    const result = JSON.parse(readFileSync(file, 'utf8')) as GatewayBench;
    const { main: rows, notes } = buildTables(result);
    process.stdout.write(`${result.at}\n${textTable(rows)}\n\n${notes.join('\n')}\n\n`);
    return readmeBlock(result, rows, notes);
  });
  updateReadme('run', blocks.join('\n\n'));
};

if (process.argv[2] === '--report') {
  report(process.argv.slice(3));
} else
  main()
    .catch((e: unknown) => {
      process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      process.exit();
    });
