// `npm run up` / `npm run down`: the whole stack on one machine. Infrastructure through the same code as the
// tests (libs/stack), then the mock provider (when no real one is configured) and the three services.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { TopicSpecs } from '@keygate/contracts';
import {
  ensureInfra,
  ensureKafkaCluster,
  ensureRedisCluster,
  isPortOpen,
  sleep,
  stopKafka,
  stopKafkaCluster,
  stopRedisCluster,
  waitFor,
} from '@keygate/stack';
import { printObserve, startObserve, type Observe } from './observe';

const ROOT = resolve(__dirname, '..', '..');
// Where the stack keeps its state, logs and generated secrets (another directory runs a second stack).
const STACK = resolve(process.env.KEYGATE_STACK_DIR ?? join(ROOT, '.stack'));
const STATE = join(STACK, 'stack.json');
const log = (msg: string) => process.stdout.write(`[keygate] ${msg}\n`);

interface StackState {
  pids: number[];
  startedKafka: boolean;
  startedKafkaCluster?: boolean;
  startedRedisCluster?: boolean;
  detached: boolean;
}

const env = process.env;
const ports = {
  keys: Number(env.KEY_SERVICE_HTTP_PORT ?? 3001),
  grpc: Number(env.KEY_SERVICE_GRPC_PORT ?? 50051),
  gateway: Number(env.GATEWAY_PORT ?? 8080),
  usage: Number(env.USAGE_SERVICE_PORT ?? 3002),
  mock: 9100,
};

// A secret generated once per machine into .stack/, reused by later runs, unless the environment sets it.
const secret = (name: string, file: string, make: () => string): string => {
  if (env[name]) return env[name]!;
  const path = join(STACK, file);
  if (!existsSync(path)) writeFileSync(path, `${make()}\n`, { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
};

const readState = (): StackState | null => {
  try {
    return JSON.parse(readFileSync(STATE, 'utf8')) as StackState;
  } catch {
    return null;
  }
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const waitReady = async (
  name: string,
  url: string,
  child: ChildProcess | null,
  logFile: string,
): Promise<void> => {
  await waitFor(
    async () => {
      if (child && child.exitCode !== null)
        throw new Error(`${name} exited with code ${child.exitCode}; see ${logFile}`);
      const res = await fetch(url).catch(() => null);
      return res?.ok ?? false;
    },
    { timeoutMs: 90_000, intervalMs: 300, what: `${name} to be ready at ${url}` },
  );
};

const up = async (detach: boolean, observe: boolean, clustered: boolean): Promise<void> => {
  mkdirSync(join(STACK, 'logs'), { recursive: true });
  const state = readState();
  if (state && state.pids.some(alive)) {
    log(
      `keygate is already running (pids ${state.pids.filter(alive).join(', ')}); \`npm run down\` stops it.`,
    );
    return;
  }
  const needsMock = !env.OPENAI_BASE_URL && !env.OPENAI_API_KEY;
  for (const [name, port] of Object.entries(ports)) {
    if (name === 'mock' && !needsMock) continue;
    if (await isPortOpen('127.0.0.1', port))
      throw new Error(`port ${port} (${name}) is taken by another process; stop it or set the port variable`);
  }

  const started = Date.now();
  const adminToken = secret(
    'ADMIN_TOKEN',
    'admin-token',
    () => `kgadm_${randomBytes(24).toString('base64url')}`,
  );
  const masterKey = secret('KEYGATE_MASTER_KEY', 'master-key', () => randomBytes(32).toString('base64'));
  // --cluster: a three-node KRaft cluster under .stack/kafka-cluster (topics replicated three times), and a Redis
  // Cluster of three masters with a replica each under .stack/redis-cluster (127.0.0.1:7001…7006).
  const [kafkaCluster, redisCluster] = clustered
    ? await Promise.all([
        ensureKafkaCluster({ stackDir: STACK, log }),
        ensureRedisCluster({ stackDir: STACK, log }),
      ])
    : [null, null];
  const brokers = kafkaCluster?.brokers ?? (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
  const infra = await ensureInfra({
    kafkaBrokers: brokers,
    databaseUrls: [
      env.KEYS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/keygate_keys',
      env.USAGE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/keygate_usage',
    ],
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379/0',
    stackDir: STACK,
    topics: TopicSpecs,
    log,
  });

  const children: ChildProcess[] = [];
  const spawnLogged = (name: string, script: string, extraEnv: Record<string, string>): ChildProcess => {
    const logFile = join(STACK, 'logs', `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--enable-source-maps', join(ROOT, 'dist', script)], {
      cwd: ROOT,
      env: { ...env, ...extraEnv },
      stdio: ['ignore', fd, fd],
      detached: true, // own process group: Ctrl-C here stops them in order, `down` finds them by pid
    });
    children.push(child);
    return child;
  };

  // No real provider configured: a local mock answers in each provider's wire format.
  const mockEnv: Record<string, string> = {};
  if (needsMock) {
    const mock = spawnLogged('mock-provider', 'libs/testing/src/mock-provider/main.js', {});
    await waitReady(
      'mock provider',
      `http://127.0.0.1:${ports.mock}/health`,
      mock,
      '.stack/logs/mock-provider.log',
    );
    Object.assign(mockEnv, { OPENAI_API_KEY: 'mock', AZURE_OPENAI_API_KEY: 'mock', GEMINI_API_KEY: 'mock' });
    // The mock listens on loopback: provider URLs may point at it (link-local stays refused).
    mockEnv.ALLOW_PRIVATE_UPSTREAMS = env.ALLOW_PRIVATE_UPSTREAMS ?? 'true';
  }

  // The console (key-service /console/) links the gateway in .pak files and calls the usage-service cross-origin.
  const consoleEnv = {
    PUBLIC_GATEWAY_URL: env.PUBLIC_GATEWAY_URL ?? `http://127.0.0.1:${ports.gateway}/v1`,
    PUBLIC_USAGE_SERVICE_URL: env.PUBLIC_USAGE_SERVICE_URL ?? `http://127.0.0.1:${ports.usage}`,
    CONSOLE_ORIGINS: env.CONSOLE_ORIGINS ?? `http://127.0.0.1:${ports.keys},http://localhost:${ports.keys}`,
  };
  let observed: Observe | null = null;
  if (observe) {
    observed = await startObserve({
      root: ROOT,
      stackDir: STACK,
      env,
      targets: [
        { service: 'key-service', address: `127.0.0.1:${ports.keys}` },
        { service: 'gateway', address: `127.0.0.1:${ports.gateway}` },
        { service: 'usage-service', address: `127.0.0.1:${ports.usage}` },
      ],
      log,
    }).catch((e: unknown) => {
      for (const c of children) process.kill(-c.pid!, 'SIGTERM'); // the mock provider
      throw e;
    });
  }
  const serviceEnv = {
    ADMIN_TOKEN: adminToken,
    KEYGATE_MASTER_KEY: masterKey,
    // The usage-service suspends keys over budget through the key-service's gRPC API, on whatever port it has.
    KEY_SERVICE_GRPC_URL: env.KEY_SERVICE_GRPC_URL ?? `127.0.0.1:${ports.grpc}`,
    KAFKA_BROKERS: brokers.join(','),
    // The services use the cluster instead of REDIS_URL when it is set.
    ...(redisCluster && { REDIS_CLUSTER_NODES: redisCluster.nodesEnv }),
    ...mockEnv,
    ...consoleEnv,
    ...observed?.serviceEnv,
  };
  const services = [
    { name: 'key-service', script: 'apps/key-service/src/main.js', port: ports.keys },
    { name: 'gateway', script: 'apps/gateway/src/main.js', port: ports.gateway },
    { name: 'usage-service', script: 'apps/usage-service/src/main.js', port: ports.usage },
  ];
  const running = services.map((s) => ({ ...s, child: spawnLogged(s.name, s.script, serviceEnv) }));
  const saveState = (detached: boolean) =>
    writeFileSync(
      STATE,
      JSON.stringify({
        // Zipkin and Prometheus first: `down` stops the services before them, so their last spans arrive.
        pids: [observed?.zipkin.pid, observed?.prometheus.pid, ...children.map((c) => c.pid)].filter(
          (pid): pid is number => pid !== undefined,
        ),
        startedKafka: infra.kafka.started,
        startedKafkaCluster: kafkaCluster?.started ?? false,
        startedRedisCluster: redisCluster?.started ?? false,
        detached,
      } satisfies StackState),
    );
  saveState(detach);
  try {
    await Promise.all(
      running.map((s) =>
        waitReady(s.name, `http://127.0.0.1:${s.port}/health/ready`, s.child, `.stack/logs/${s.name}.log`),
      ),
    );
  } catch (e) {
    await down();
    throw e;
  }

  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  log(`  console       http://127.0.0.1:${ports.keys}/console/  (sign in with the admin token)`);
  log(`  key-service   http://127.0.0.1:${ports.keys}  (OpenAPI: /docs, gRPC :${ports.grpc})`);
  log(`  gateway       http://127.0.0.1:${ports.gateway}/v1  (OpenAI-compatible)`);
  log(`  usage-service http://127.0.0.1:${ports.usage}  (OpenAPI: /docs)`);
  if (mockEnv.OPENAI_API_KEY)
    log(`  mock provider http://127.0.0.1:${ports.mock}  (no real provider configured)`);
  if (observed) printObserve(observed, log);
  log(`  admin token   ${adminToken}   (also in .stack/admin-token)`);
  log(`  logs          ${join(STACK, 'logs')}`);
  log(`  kafka         ${brokers.join(',')}${kafkaCluster ? ' (three-node cluster)' : ''}`);
  if (redisCluster) log(`  redis cluster ${redisCluster.nodesEnv}  (three masters, three replicas)`);

  if (detach) {
    for (const c of children) c.unref();
    log('running in the background; `npm run down` stops it');
    process.exit(0);
  }
  log('Ctrl-C stops the stack');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void down().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  for (const s of running)
    s.child.on('exit', (code) => {
      if (!stopping) log(`${s.name} exited (${code}); see .stack/logs/${s.name}.log`);
    });
};

const down = async (): Promise<void> => {
  const state = readState();
  if (state) {
    // Services first (they flush usage events to Kafka on SIGTERM), then the broker.
    for (const pid of [...state.pids].reverse()) {
      try {
        process.kill(-pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
    }
    const deadline = Date.now() + 15_000;
    while (state.pids.some(alive) && Date.now() < deadline) await sleep(100);
    for (const pid of state.pids.filter(alive)) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (state.startedKafka) await stopKafka(STACK);
    if (state.startedKafkaCluster) await stopKafkaCluster({ stackDir: STACK, log });
    if (state.startedRedisCluster) await stopRedisCluster(STACK);
    rmSync(STATE, { force: true });
    log('stopped');
  } else {
    log('nothing to stop');
  }
};

const command = process.argv[2];
const run =
  command === 'down'
    ? down()
    : up(
        process.argv.includes('--detach'),
        process.argv.includes('--observe'),
        process.argv.includes('--cluster'),
      );
run.catch((e: unknown) => {
  process.stderr.write(`[keygate] ${(e as Error).message}\n`);
  process.exit(1);
});
