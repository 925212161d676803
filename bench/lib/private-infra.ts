import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { TopicSpecs } from '@keygate/contracts';
import { dropDatabase, ensureKafka, ensurePostgres, ensureTopics, stopKafka, waitFor } from '@keygate/stack';
import { freeTestPort } from '@keygate/testing/stack/test-stack';
import {
  BENCH_STACK_DIR as STACK_DIR,
  log,
  onCleanup,
  spawnProc,
  startMockProvider,
  type Proc,
} from './processes';

// A bench's own Kafka broker, Redis and PostgreSQL databases, so its traffic (hundreds of thousands of usage
// events, a million key events) never reaches the shared broker, Redis or another engineer's consumers, and
// their tests do not disturb its figures more than the shared CPUs already do. Everything is removed at the end.

const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';

export interface PrivateKafka {
  brokers: string;
  port: number;
  dataDir: string;
  pid?: number;
}

export const startPrivateKafka = async (run: string): Promise<PrivateKafka> => {
  const [port, controllerPort] = [await freeTestPort(), await freeTestPort()];
  const dataDir = join(STACK_DIR, `bench-${run}`, 'kafka');
  const brokers = `127.0.0.1:${port}`;
  log(`starting a private Kafka broker at ${brokers} (data in ${dataDir})`);
  onCleanup('private Kafka', async () => {
    await stopKafka(STACK_DIR, dataDir);
    rmSync(dataDir, { recursive: true, force: true });
  });
  const started = await ensureKafka({
    brokers: [brokers],
    stackDir: STACK_DIR,
    dataDir,
    port,
    controllerPort,
    log: (m) => log(m),
  });
  await ensureTopics([brokers], TopicSpecs);
  return { brokers, port, dataDir, pid: started.pid };
};

export interface PrivateRedis {
  url: string;
  proc: Proc;
}

export const startPrivateRedis = async (run: string, logDir: string): Promise<PrivateRedis> => {
  const port = await freeTestPort();
  const proc = spawnProc(
    `redis-${port}`,
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', logDir],
    { logDir },
  );
  onCleanup('private Redis', () => proc.stop());
  const url = `redis://127.0.0.1:${port}/0`;
  await waitFor(
    async () => {
      const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      r.on('error', () => undefined); // not up yet: the next attempt tells
      try {
        await r.connect();
        return (await r.ping()) === 'PONG';
      } finally {
        r.disconnect();
      }
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `private Redis ${run} at ${url}` },
  );
  log(`private Redis at ${url}`);
  return { url, proc };
};

// keygate_bench_<role>_<run>: created now, dropped at the end.
export const benchDatabase = async (role: string, run: string): Promise<string> => {
  const url = `${PG}/keygate_bench_${role}_${run}`;
  await ensurePostgres([url], () => undefined);
  onCleanup(`database ${role}`, () => dropDatabase(url));
  return url;
};

// What a gateway bench runs keygate on: its own Kafka, Redis and keys database, and the mock provider. `keygate`
// holds them as startKeygate takes them.
export const startGatewayInfra = async (run: string, logDir: string) => {
  const [kafka, redis, keysDb] = await Promise.all([
    startPrivateKafka(run),
    startPrivateRedis(run, logDir),
    benchDatabase('keys', run),
  ]);
  const mock = await startMockProvider(logDir);
  return {
    redis,
    mock,
    keygate: {
      run,
      logDir,
      kafkaBrokers: kafka.brokers,
      redisUrl: redis.url,
      keysDatabaseUrl: keysDb,
      mockUrl: mock.url,
    },
  };
};
