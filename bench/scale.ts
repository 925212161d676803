import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchRedisKind, startBenchRedis } from './lib/bench-redis';
import { startKeygate } from './lib/keygate';
import { benchDatabase, startPrivateKafka } from './lib/private-infra';
import { freeTestPort } from '@keygate/testing/stack/test-stack';
import { BENCH_STACK_DIR, cleanup, envNumber, log, startMockProvider, startService } from './lib/processes';
import { load, machine, machineLine, stamp, textTable, updateReadme, writeResult } from './lib/report';
import { keyServiceFigure } from './scale/key-service';
import { gatewayStartSeconds, hotCacheRss, produceKeyEvents, rebuildProjection } from './scale/projection';
import { measureRevocations } from './scale/revoke';
import { readmeBlock, scaleRows, type ScaleResult } from './scale/scale-report';
import { measureIngest, produceUsageEvents } from './scale/usage-ingest';
import { measureUsageLag } from './scale/usage-lag';

// Scale figures (npm run build && node dist/bench/scale.js), all on a private Kafka broker, Redis and databases:
//   revoke-to-first-401 across 2 gateway instances, usage-service events/s, key-service creates/s (bench/key-service),
//   projection rebuild time for 1,000,000 keys from keys.events, gateway RSS with them in Redis and 100,000 hot,
//   gateway start-up on the empty projection and with the million keys.
//   usage lag: gateway answer → usage aggregate visible, at a steady request rate.
// Environment: BENCH_REVOCATIONS (200), BENCH_USAGE_EVENTS (200000), BENCH_KEYS (1000000), BENCH_HOT_KEYS (100000),
// BENCH_LAG_RATE (200 req/s) for BENCH_LAG_SECONDS (20), BENCH_STARTS (3 gateway starts per condition),
// BENCH_REBUILD_TIMEOUT_S (900), BENCH_KEY_SERVICE=reuse (take the newest
// bench/results/key-service-*.json), BENCH_ONLY=revoke,usage,lag,keys,projection, BENCH_REDIS=single|cluster (one
// redis-server, or a Redis Cluster of 3 masters + 3 replicas on BENCH_REDIS_CLUSTER_PORT..+5, 7501 by default).

const REVOCATIONS = envNumber('BENCH_REVOCATIONS', 200);
const USAGE_EVENTS = envNumber('BENCH_USAGE_EVENTS', 200_000);
const KEYS = envNumber('BENCH_KEYS', 1_000_000);
const HOT = Math.min(KEYS, envNumber('BENCH_HOT_KEYS', 100_000));
const LAG_RATE = envNumber('BENCH_LAG_RATE', 200);
const LAG_SECONDS = envNumber('BENCH_LAG_SECONDS', 20);
const STARTS = envNumber('BENCH_STARTS', 3);
const REBUILD_TIMEOUT_S = envNumber('BENCH_REBUILD_TIMEOUT_S', 900);
const ONLY = new Set((process.env.BENCH_ONLY ?? 'revoke,usage,lag,keys,projection').split(','));

const main = async (): Promise<void> => {
  const run = randomBytes(4).toString('hex');
  const at = new Date().toISOString();
  const logDir = join(BENCH_STACK_DIR, `bench-${run}`, 'logs');
  const m = machine();
  const loadStart = load();
  log(`scale run ${run} on ${machineLine(m)}; load ${loadStart.loadavg.join(' ')}; logs in ${logDir}`);
  const redisKind = benchRedisKind();
  const [kafka, redis] = await Promise.all([startPrivateKafka(run), startBenchRedis(redisKind, run, logDir)]);
  const result: ScaleResult = {
    bench: 'scale',
    run,
    at,
    machine: m,
    ...(process.env.BENCH_ONLY && { only: process.env.BENCH_ONLY }),
    redis: { kind: redis.kind, description: redis.description },
    errors: {},
  };
  // A figure that fails is recorded as such; the others are still measured and written.
  const section = async (name: string, fn: () => Promise<void>): Promise<void> => {
    if (!ONLY.has(name)) return;
    try {
      await fn();
    } catch (e) {
      result.errors[name] = (e as Error).message;
      log(`${name} failed: ${(e as Error).stack ?? String(e)}`);
    }
  };

  // 1. Revocations, with the whole write path: REST → PostgreSQL + outbox → Kafka → projection → pub/sub.
  await section('revoke', async () => {
    const keygate = await startKeygate({
      run,
      logDir,
      kafkaBrokers: kafka.brokers,
      redisUrl: redis.env.REDIS_URL,
      redisClusterNodes: redis.env.REDIS_CLUSTER_NODES,
      keysDatabaseUrl: await benchDatabase('keys', run),
      mockUrl: 'http://127.0.0.1:9',
      gateways: 2,
    });
    result.revoke = await measureRevocations(keygate, REVOCATIONS);
    log(`revoke: ${JSON.stringify(result.revoke)}`);
    await keygate.stop();
  });

  // 2. usage-service ingest: a usage-service of its own on a fresh ledger.
  await section('usage', async () => {
    const usageDb = await benchDatabase('usage', run);
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      OTEL_SDK_DISABLED: 'true',
      ADMIN_TOKEN: `kgadm_bench_${randomBytes(16).toString('hex')}`,
      KEYGATE_MASTER_KEY: randomBytes(32).toString('base64'),
      KAFKA_BROKERS: kafka.brokers,
      USAGE_DATABASE_URL: usageDb,
      KEY_SERVICE_GRPC_URL: '127.0.0.1:9', // no budgets here: nothing to suspend
      USAGE_SERVICE_PORT: String(await freeTestPort()),
      USAGE_CONSUMER_GROUP: `usage-bench-${run}`,
    };
    const produced = await produceUsageEvents(kafka.brokers, USAGE_EVENTS);
    log(`usage: produced at ${produced.perSecond}/s; starting a usage-service to drain them`);
    const usage = await startService(
      'usage-service',
      'usage-service',
      env,
      `http://127.0.0.1:${env.USAGE_SERVICE_PORT}/health/ready`,
      logDir,
    );
    try {
      result.usage = await measureIngest(usageDb, usage, USAGE_EVENTS, produced);
      log(`usage: ${JSON.stringify(result.usage)}`);
    } finally {
      await usage.stop();
    }
  });

  // 3. Usage lag: key-service, a gateway and a usage-service on a fresh ledger, a mock provider behind them.
  await section('lag', async () => {
    const { proc: mock, url: mockUrl } = await startMockProvider(logDir);
    const usageDb = await benchDatabase('usagelag', run);
    const keygate = await startKeygate({
      run,
      logDir,
      kafkaBrokers: kafka.brokers,
      redisUrl: redis.env.REDIS_URL,
      redisClusterNodes: redis.env.REDIS_CLUSTER_NODES,
      keysDatabaseUrl: await benchDatabase('keyslag', run),
      usageDatabaseUrl: usageDb,
      mockUrl,
      gateways: 1,
    });
    try {
      result.usageLag = await measureUsageLag(keygate, usageDb, LAG_RATE, LAG_SECONDS);
      log(`usage lag: ${JSON.stringify(result.usageLag)}`);
    } finally {
      await keygate.stop();
      await mock.stop();
    }
  });

  // 4. key-service creates/s: bench/key-service's figure, measured now against the private broker.
  await section('keys', async () => {
    result.keyService = await keyServiceFigure(kafka.brokers, logDir);
    log(`key-service: ${JSON.stringify(result.keyService)}`);
  });

  // 5. A million keys: gateways started on the empty projection, the keys produced, rebuilt into an empty Redis,
  // gateways started again on them, then one with 100k of them hot.
  await section('projection', async () => {
    const env = {
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      OTEL_SDK_DISABLED: 'true',
      KAFKA_BROKERS: kafka.brokers,
      ...redis.env,
      OPENAI_API_KEY: 'mock-openai',
      AZURE_OPENAI_API_KEY: 'mock-azure',
      GEMINI_API_KEY: 'mock-gemini',
      // One process, measured by its pid (RSS, start-up), as startKeygate's gateways.
      GATEWAY_WORKERS: '1',
    };
    await redis.flushall();
    result.startup = {
      keys: KEYS,
      emptySeconds: await gatewayStartSeconds(env, kafka.brokers, HOT, logDir, STARTS),
    };
    // Their healers may have replayed what keys.events held (the revoke section's keys) and marked the projection
    // complete: the rebuild starts from an empty Redis again.
    await redis.flushall();
    log(`keys: producing ${KEYS} KeyCreated events (${HOT} with a usable secret)`);
    const produced = await produceKeyEvents(kafka.brokers, KEYS, HOT);
    log(`keys: produced in ${produced.produceSeconds} s (${Math.round(produced.bytes / 2 ** 20)} MiB)`);
    log('keys: rebuilding the projection from keys.events');
    const rebuild = await rebuildProjection(env, logDir, REBUILD_TIMEOUT_S);
    const footprint = await redis.footprint();
    log(`keys: rebuild ${JSON.stringify(rebuild)}; Redis ${JSON.stringify(footprint)}`);
    result.projection = {
      keys: KEYS,
      produced: { seconds: produced.produceSeconds, mib: Math.round(produced.bytes / 2 ** 20) },
      rebuild,
      redis: footprint,
    };
    result.startup.keysSeconds = await gatewayStartSeconds(env, kafka.brokers, HOT, logDir, STARTS);
    result.projection.gateway = await hotCacheRss(env, kafka.brokers, produced.hotKeys, logDir);
    log(`rss: ${JSON.stringify(result.projection.gateway)}`);
  });

  const loadEnd = load();
  result.load = { start: loadStart, end: loadEnd };
  const rows = scaleRows(result);
  process.stdout.write(
    `\n${machineLine(m)}\nload (uptime) at start ${loadStart.loadavg.join(' ')}, at end ${loadEnd.loadavg.join(' ')}\n\n${textTable(rows)}\n`,
  );
  const file = writeResult(`scale-${stamp(at)}`, result);
  updateReadme('scale', readmeBlock(result));
  log(`wrote ${file} and bench/README.md`);
};

// node dist/bench/scale.js --report bench/results/scale-<date>.json…: those runs' tables, also into bench/README.md.
if (process.argv[2] === '--report') {
  const runs = process.argv.slice(3).map((f) => JSON.parse(readFileSync(f, 'utf8')) as ScaleResult);
  for (const r of runs) process.stdout.write(`${r.at}\n${textTable(scaleRows(r))}\n\n`);
  updateReadme('scale', runs.map(readmeBlock).join('\n\n'));
} else
  main()
    .catch((e: unknown) => {
      process.stderr.write(`scale bench failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      process.exit();
    });
