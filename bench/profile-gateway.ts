import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { BENCH_KEY, startKeygate, startOtlpSink } from './lib/keygate';
import { runLoad, warmUp } from './lib/load';
import { startGatewayInfra } from './lib/private-infra';
import { PERF_NODE_ARGS, perfAvailable, recordPerf, removePerfMap, summarizePerf } from './lib/perf-profile';
import { BENCH_STACK_DIR, cleanup, envNodeArgs, envNumber, log } from './lib/processes';

// Where the gateway's CPU goes: keygate's gateway under chat-completion load (same set-up as npm run bench:
// private Kafka/Redis, key through key-service, rate limit, budget, IP allow list, usage events, telemetry on with the
// shipped default sampler; BENCH_TELEMETRY=all traces every request, BENCH_TELEMETRY=off turns tracing off).
//   node dist/bench/profile-gateway.js   BENCH_CONNECTIONS=10 BENCH_SECONDS=20 BENCH_TELEMETRY=on|all|off
//                                        BENCH_PROFILER=perf|v8 BENCH_KEEP_PERF_MAP=1
//                                        BENCH_GATEWAY_NODE_ARGS="--trace-deopt" (more flags for the gateway)
// perf (the default where `perf` is installed): on-CPU samples of every thread during the load, each charged to
// its JavaScript caller (lib/perf-profile.ts says why this, not V8's profiler, is the one to read for CPU cost).
// v8: `node --cpu-prof` (wall time, main thread), self time by package and by function; the .cpuprofile opens in
// Chrome DevTools (Performance → Load profile).

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const where = (url: string): string => {
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith('node:')) return 'node:internal';
  const dist = /\/dist\/(.*)$/.exec(url);
  return dist ? `keygate ${dist[1].split('/').slice(0, 3).join('/')}` : url;
};

// Self time of the samples taken after `skipMs` (start-up: module loading dwarfs everything else).
export const summarize = (profile: CpuProfile, skipMs: number, top = 25): string => {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let t = 0;
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i] ?? 0;
    if (t >= skipMs * 1000) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const byPkg = new Map<string, number>();
  const byFn = new Map<string, number>();
  for (const [id, us] of self) {
    const { callFrame: cf } = byId.get(id)!;
    const pkg =
      cf.functionName === '(idle)' || cf.functionName === '(program)' ? cf.functionName : where(cf.url);
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
    const fn = `${cf.functionName || '(anonymous)'} ${where(cf.url)}:${cf.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + us);
  }
  const fmt = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(
        ([k, us]) =>
          `${((us / total) * 100).toFixed(1).padStart(5)}%  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`,
      )
      .join('\n');
  return `self time by package:\n${fmt(byPkg)}\n\nself time by function:\n${fmt(byFn)}\n`;
};

// The private Redis's own counts: a read per batch of commands a client wrote at once (a round trip).
const redisStats = async (url: string): Promise<{ reads: number; commands: number }> => {
  const r = new Redis(url);
  try {
    const info = await r.info('stats');
    const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(info)?.[1] ?? NaN);
    return { reads: field('total_reads_processed'), commands: field('total_commands_processed') };
  } finally {
    r.disconnect();
  }
};

const main = async (): Promise<void> => {
  const run = randomBytes(4).toString('hex');
  const logDir = join(BENCH_STACK_DIR, `bench-${run}`, 'logs');
  const profDir = join(BENCH_STACK_DIR, `bench-${run}`, 'prof');
  mkdirSync(profDir, { recursive: true });
  const telemetry = process.env.BENCH_TELEMETRY !== 'off';
  const usePerf = process.env.BENCH_PROFILER !== 'v8' && perfAvailable();
  const infra = await startGatewayInfra(run, logDir);
  const { redis } = infra;
  const sink = await startOtlpSink();
  const keygate = await startKeygate({
    ...infra.keygate,
    gateways: 1,
    gatewayEnv: telemetry
      ? {
          OTEL_SDK_DISABLED: 'false',
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
          OTEL_SERVICE_NAME: 'gateway',
          ...(process.env.BENCH_TELEMETRY === 'all' ? { OTEL_TRACES_SAMPLER: 'parentbased_always_on' } : {}),
        }
      : { OTEL_SDK_DISABLED: 'true' },
    gatewayNodeArgs: [
      ...(usePerf ? PERF_NODE_ARGS : ['--cpu-prof', `--cpu-prof-dir=${profDir}`]),
      ...envNodeArgs('BENCH_GATEWAY_NODE_ARGS'),
    ],
  });
  const groupId = await keygate.createGroup(['gpt-4o-mini']);
  const key = await keygate.createKey({ groupIds: [groupId], ...BENCH_KEY });
  await keygate.waitForRoute(key.key, 'gpt-4o-mini');
  const target = {
    name: 'keygate',
    url: `${keygate.gatewayUrls[0]}/v1/chat/completions`,
    headers: { authorization: `Bearer ${key.key}` },
    pid: keygate.gateways[0].pid,
  };
  await warmUp(target);
  const loadFrom = Date.now();
  const redis0 = await redisStats(redis.url);
  const perfData = join(profDir, 'gateway.perf.data');
  const recording = usePerf ? recordPerf(target.pid, perfData) : null;
  const s = await runLoad(target, envNumber('BENCH_CONNECTIONS', 10), envNumber('BENCH_SECONDS', 20));
  await recording?.stop();
  const redis1 = await redisStats(redis.url);
  const perRequest = (k: keyof typeof redis0) => ((redis1[k] - redis0[k]) / s.requests).toFixed(2);
  log(`telemetry ${process.env.BENCH_TELEMETRY ?? 'on'}: ${JSON.stringify(s)}`);
  log(
    `Redis per request: ${perRequest('reads')} socket reads (round trips), ${perRequest('commands')} commands`,
  );
  if (usePerf) {
    process.stdout.write(`\n${summarizePerf(perfData)}\nprofile: ${perfData} (perf report -i it)\n`);
    await keygate.gateways[0].stop();
    removePerfMap(target.pid);
    return;
  }
  await keygate.gateways[0].stop(); // the profile is written as the process exits
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no profile in ${profDir}; see ${keygate.gateways[0].logFile}`);
  const path = join(profDir, file);
  const skipMs = loadFrom - keygate.gateways[0].startedAt;
  process.stdout.write(
    `\nsteady state (the first ${(skipMs / 1000).toFixed(1)} s of the profile, start-up and warm-up, left out)\n` +
      `${summarize(JSON.parse(readFileSync(path, 'utf8')) as CpuProfile, skipMs)}\nprofile: ${path}\n`,
  );
};

if (require.main === module)
  main()
    .catch((e: unknown) => {
      process.stderr.write(`profile failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      process.exit();
    });
