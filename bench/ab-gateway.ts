import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { BENCH_KEY, startKeygate, startOtlpSink } from './lib/keygate';
import { runLoad, warmUp, type Target } from './lib/load';
import { benchDatabase, startPrivateKafka, startPrivateRedis } from './lib/private-infra';
import {
  BENCH_STACK_DIR,
  cleanup,
  envNumber,
  log,
  onCleanup,
  ROOT,
  spawnProc,
  startMockProvider,
  waitReady,
} from './lib/processes';
import { freeTestPort } from '@keygate/testing/stack/test-stack';
import { load } from './lib/report';

// An earlier build's gateway beside this one, on the same key, Redis, Kafka and mock, in alternating rounds so
// the machine's load drifts onto every target alike: CPU µs per request and req/s at c=10, each as a ratio to
// the bare proxy measured in the same round. For a before/after figure on a shared, loaded machine.
//   git archive <commit> | tar -x -C /tmp/before && ln -s $PWD/node_modules /tmp/before/ && (cd /tmp/before &&
//   npx tsc -p tsconfig.build.json && npx tsc-alias -p tsconfig.build.json)
//   npm run build && node dist/bench/ab-gateway.js /tmp/before     BENCH_ROUNDS=3 BENCH_SECONDS=5

const main = async (): Promise<void> => {
  const before = process.argv[2];
  if (!before) throw new Error('usage: node dist/bench/ab-gateway.js <root of the earlier build>');
  const run = randomBytes(4).toString('hex');
  const logDir = join(BENCH_STACK_DIR, `bench-${run}`, 'logs');
  const [kafka, redis, keysDb] = await Promise.all([
    startPrivateKafka(run),
    startPrivateRedis(run, logDir),
    benchDatabase('keys', run),
  ]);
  const { url: mockUrl } = await startMockProvider(logDir);
  const sink = await startOtlpSink();
  const otlp = {
    OTEL_SDK_DISABLED: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.url,
    OTEL_SERVICE_NAME: 'gateway',
  };
  const all = { ...otlp, OTEL_TRACES_SAMPLER: 'parentbased_always_on' };
  const configs = [
    { name: 'before, every request traced (its default)', root: before, env: all },
    { name: 'before, tracing off', root: before, env: { OTEL_SDK_DISABLED: 'true' } },
    { name: 'after, shipped default (0.1)', root: ROOT, env: otlp },
    { name: 'after, every request traced', root: ROOT, env: all },
    { name: 'after, tracing off', root: ROOT, env: { OTEL_SDK_DISABLED: 'true' } },
  ];
  const keygate = await startKeygate({
    run,
    logDir,
    kafkaBrokers: kafka.brokers,
    redisUrl: redis.url,
    keysDatabaseUrl: keysDb,
    mockUrl,
    gateways: configs.length,
    perGatewayEnv: configs.map((c) => c.env),
    perGatewayBuildRoot: configs.map((c) => c.root),
  });
  const groupId = await keygate.createGroup(['gpt-4o-mini']);
  const key = await keygate.createKey({ groupIds: [groupId], ...BENCH_KEY });
  await keygate.waitForRoute(key.key, 'gpt-4o-mini');
  const barePort = await freeTestPort();
  const bare = spawnProc(
    'bare-proxy',
    process.execPath,
    [join(ROOT, 'dist', 'bench', 'lib', 'bare-proxy.js'), String(barePort), mockUrl, redis.url],
    { logDir },
  );
  onCleanup('bare proxy', () => bare.stop());
  await waitReady(bare, `http://127.0.0.1:${barePort}/health`);
  const targets: Target[] = [
    {
      name: 'bare-proxy',
      url: `http://127.0.0.1:${barePort}/v1/chat/completions`,
      headers: {},
      pid: bare.pid,
    },
    ...configs.map((c, i) => ({
      name: c.name,
      url: `${keygate.gatewayUrls[i]}/v1/chat/completions`,
      headers: { authorization: `Bearer ${key.key}` },
      pid: keygate.gateways[i].pid,
    })),
  ];
  for (const t of targets) await warmUp(t);
  const rounds = envNumber('BENCH_ROUNDS', 3);
  const seconds = envNumber('BENCH_SECONDS', 5);
  const cpu = new Map<string, number[]>();
  const rps = new Map<string, number[]>();
  const loads: string[] = [load().loadavg.join(' ')];
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? targets : [...targets].reverse();
    const round: Record<string, { cpu: number; rps: number }> = {};
    for (const t of order) {
      const s = await runLoad(t, 10, seconds);
      round[t.name] = { cpu: s.cpuUsPerRequest ?? NaN, rps: s.rps };
    }
    for (const t of targets) {
      cpu.set(t.name, [...(cpu.get(t.name) ?? []), round[t.name].cpu / round['bare-proxy'].cpu]);
      rps.set(t.name, [...(rps.get(t.name) ?? []), round[t.name].rps / round['bare-proxy'].rps]);
    }
    log(`round ${r + 1}: ${JSON.stringify(round)}`);
    loads.push(load().loadavg.join(' '));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  process.stdout.write(
    `\nc=10, mock instant, ${rounds} alternating rounds of ${seconds} s; load ${loads.join(' → ')}\n`,
  );
  process.stdout.write(
    'target | CPU µs/request ÷ bare-proxy (median; rounds) | req/s ÷ bare-proxy (median)\n',
  );
  for (const t of targets.slice(1))
    process.stdout.write(
      `${t.name} | ${median(cpu.get(t.name)!).toFixed(2)}× (${cpu
        .get(t.name)!
        .map((x) => x.toFixed(2))
        .join(', ')}) | ${median(rps.get(t.name)!).toFixed(2)}×\n`,
    );
};

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
