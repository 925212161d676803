import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { dropDatabase, ensurePostgres } from '../../../stack/src';
import { eventually } from './api-client';
import { freeTestPort, KAFKA_BROKERS, ROOT, STACK_DIR, type TestStack } from './test-stack';

// `npm run up -- --observe --detach` as a developer runs it (dist/scripts/stack.js), but on free ports, in a namespace
// (KAFKA_TOPIC_PREFIX), Redis db, databases and stack directory of its own, beside the test run's stack and any stack
// a developer has up (as test/e2e/stack-isolation.security starts one).
// The services and Zipkin/Prometheus are the stack script's; `stopObserveStack` is its `down`.

export interface ObserveStack extends TestStack {
  zipkinUrl: string;
  prometheusUrl: string;
  stackDir: string;
  /** What `npm run up` printed. */
  output: string;
}

const stackScript = (args: string[], env: NodeJS.ProcessEnv, logFile: string, timeoutMs: number) =>
  new Promise<void>((resolve, reject) => {
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'scripts', 'stack.js'), ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', fd, fd],
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `stack.js ${args.join(' ')} failed (${signal ?? code}):\n${readFileSync(logFile, 'utf8')}`,
          ),
        );
    });
  });

export const startObserveStack = async (base: TestStack): Promise<ObserveStack> => {
  const run = randomBytes(4).toString('hex');
  const [keys, grpc, gateway, usage, zipkin, prometheus] = await Promise.all(
    Array.from({ length: 6 }, () => freeTestPort()),
  );
  const stackDir = join(STACK_DIR, `observe-e2e-${run}`);
  mkdirSync(join(stackDir, 'logs'), { recursive: true });
  const stack: ObserveStack = {
    ...base,
    keyServiceUrl: `http://127.0.0.1:${keys}`,
    grpcUrl: `127.0.0.1:${grpc}`,
    gatewayUrl: `http://127.0.0.1:${gateway}`,
    usageServiceUrl: `http://127.0.0.1:${usage}`,
    keysDatabaseUrl: `postgres://postgres@127.0.0.1:5432/keygate_keys_e2e_obs_${run}`,
    usageDatabaseUrl: `postgres://postgres@127.0.0.1:5432/keygate_usage_e2e_obs_${run}`,
    redisUrl: 'redis://127.0.0.1:6379/6',
    zipkinUrl: `http://127.0.0.1:${zipkin}`,
    prometheusUrl: `http://127.0.0.1:${prometheus}`,
    stackDir,
    logDir: join(stackDir, 'logs'),
    pids: [],
    output: '',
  };
  await ensurePostgres([stack.keysDatabaseUrl, stack.usageDatabaseUrl], () => undefined);
  // The test stack's consumer groups are its own: this stack gets the default ones of its namespace.
  const {
    GATEWAY_PROJECTION_GROUP: _projection,
    USAGE_CONSUMER_GROUP: _usage,
    KEY_SERVICE_LAST_USED_GROUP: _lastUsed,
    ...shared
  } = base.env;
  stack.env = {
    ...shared,
    KAFKA_TOPIC_PREFIX: `observe-${run}.`,
    REDIS_URL: stack.redisUrl,
    KEY_SERVICE_HTTP_PORT: String(keys),
    KEY_SERVICE_GRPC_PORT: String(grpc),
    KEY_SERVICE_GRPC_URL: stack.grpcUrl,
    GATEWAY_PORT: String(gateway),
    USAGE_SERVICE_PORT: String(usage),
    KEYS_DATABASE_URL: stack.keysDatabaseUrl,
    USAGE_DATABASE_URL: stack.usageDatabaseUrl,
    CONSOLE_ORIGINS: stack.keyServiceUrl,
    PUBLIC_USAGE_SERVICE_URL: stack.usageServiceUrl,
    PUBLIC_GATEWAY_URL: `${stack.gatewayUrl}/v1`,
    KEYGATE_STACK_DIR: stackDir,
    ZIPKIN_PORT: String(zipkin),
    PROMETHEUS_PORT: String(prometheus),
    // A test cannot wait for 5 s scrapes: a rate needs two of them.
    PROMETHEUS_SCRAPE_INTERVAL: '1s',
    OTEL_BSP_SCHEDULE_DELAY: '500',
  };
  const logFile = join(stackDir, 'up.log');
  try {
    await stackScript(['up', '--observe', '--detach'], { ...process.env, ...stack.env }, logFile, 300_000);
  } catch (e) {
    await stopObserveStack(stack);
    throw e;
  }
  stack.output = readFileSync(logFile, 'utf8');
  return stack;
};

export const stopObserveStack = async (stack: ObserveStack): Promise<void> => {
  await stackScript(
    ['down'],
    { ...process.env, ...stack.env },
    join(stack.stackDir, 'down.log'),
    60_000,
  ).catch((e: Error) => process.stderr.write(`${e.message}\n`));
  await Promise.all([dropDatabase(stack.keysDatabaseUrl), dropDatabase(stack.usageDatabaseUrl)]).catch(
    () => undefined,
  );
  // The namespace's topics go with it, like its databases and directory (its Redis keys are unique to it).
  const admin = new Kafka({
    clientId: 'keygate-tests',
    brokers: KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin
    .connect()
    .then(async () => {
      const prefix = stack.env.KAFKA_TOPIC_PREFIX;
      const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
      if (topics.length) await admin.deleteTopics({ topics });
    })
    .catch(() => undefined)
    .finally(() => admin.disconnect());
  rmSync(stack.stackDir, { recursive: true, force: true });
};

export interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name: string;
  kind?: string;
  localEndpoint?: { serviceName?: string };
  tags?: Record<string, string>;
}

export const getJson = async <T>(url: string): Promise<T> => {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return (await res.json()) as T;
};

// The trace of one gateway request, found as an SRE would: Zipkin's search for the usage-service span tagged with
// the x-request-id the client got, then the whole trace once the gateway's spans are in too.
export const zipkinTraceOf = async (zipkinUrl: string, requestId: string): Promise<ZipkinSpan[]> => {
  const query = encodeURIComponent(`keygate.request.id=${requestId}`);
  const search = `${zipkinUrl}/api/v2/traces?serviceName=usage-service&spanName=usage.ingest&annotationQuery=${query}&lookback=600000`;
  const [found] = await eventually(
    () => getJson<ZipkinSpan[][]>(search).catch(() => []),
    (traces) => traces.length === 1,
    { timeoutMs: 30_000, intervalMs: 250 },
  );
  return eventually(
    () => getJson<ZipkinSpan[]>(`${zipkinUrl}/api/v2/trace/${found[0].traceId}`),
    (s) => s.some((x) => x.name === 'post /v1/chat/completions'),
    { timeoutMs: 15_000, intervalMs: 250 },
  );
};
