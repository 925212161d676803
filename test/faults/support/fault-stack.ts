import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { dropDatabase, ensurePostgres, waitFor } from '@keygate/stack';
import {
  freeTestPort,
  ROOT,
  startService,
  STACK_DIR,
  type RunningService,
  type TestStack,
} from '@keygate/testing';

// The three built services (dist/) wired to whatever infrastructure a fault test chose: its private broker,
// Redis or PostgreSQL cluster, or the shared ones where that part is not the one being broken.
export interface FaultStackOptions {
  kafkaBrokers: string[];
  redisUrl: string;
  /** postgres://user@host:port, without a database: the stack creates its own two databases there. */
  postgresServer: string;
  /** Same server for both databases unless given. */
  usagePostgresServer?: string;
  mockUrl: string;
  env?: Record<string, string>;
}

export type ServiceName = 'key-service' | 'gateway' | 'usage-service';

export interface FaultStack extends TestStack {
  run: string;
  services: Partial<Record<ServiceName, RunningService>>;
  readyUrl(app: ServiceName): string;
  start(app: ServiceName, overrides?: Record<string, string>): Promise<RunningService>;
  /** SIGKILL by default: the process gets no chance to flush or commit anything. */
  kill(app: ServiceName, signal?: NodeJS.Signals): Promise<void>;
  destroy(): Promise<void>;
}

export const buildFaultStack = async (o: FaultStackOptions): Promise<FaultStack> => {
  const run = randomBytes(4).toString('hex');
  const [keysPort, grpcPort, gatewayPort, usagePort] = [
    await freeTestPort(),
    await freeTestPort(),
    await freeTestPort(),
    await freeTestPort(),
  ];
  const keysDatabaseUrl = `${o.postgresServer}/keygate_keys_fault_${run}`;
  const usageDatabaseUrl = `${o.usagePostgresServer ?? o.postgresServer}/keygate_usage_fault_${run}`;
  await ensurePostgres([keysDatabaseUrl, usageDatabaseUrl], () => undefined);
  const logDir = join(STACK_DIR, `fault-logs-${run}`);
  mkdirSync(logDir, { recursive: true });
  const adminToken = `kgadm_fault_${randomBytes(16).toString('hex')}`;
  const stack: FaultStack = {
    run,
    adminToken,
    keyServiceUrl: `http://127.0.0.1:${keysPort}`,
    grpcUrl: `127.0.0.1:${grpcPort}`,
    gatewayUrl: `http://127.0.0.1:${gatewayPort}`,
    usageServiceUrl: `http://127.0.0.1:${usagePort}`,
    mockUrl: o.mockUrl,
    redisUrl: o.redisUrl,
    keysDatabaseUrl,
    usageDatabaseUrl,
    pids: [],
    logDir,
    services: {},
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      ADMIN_TOKEN: adminToken,
      KEYGATE_MASTER_KEY: randomBytes(32).toString('base64'),
      KAFKA_BROKERS: o.kafkaBrokers.join(','),
      KEYS_DATABASE_URL: keysDatabaseUrl,
      USAGE_DATABASE_URL: usageDatabaseUrl,
      REDIS_URL: o.redisUrl,
      KEY_SERVICE_HTTP_PORT: String(keysPort),
      KEY_SERVICE_GRPC_PORT: String(grpcPort),
      KEY_SERVICE_GRPC_URL: `127.0.0.1:${grpcPort}`,
      GATEWAY_PORT: String(gatewayPort),
      // One process per gateway, as in the e2e stack: what a test says a gateway has cached is then what every
      // process serving its port has (with workers, a keep-alive client reaches one of them for long stretches).
      GATEWAY_WORKERS: '1',
      USAGE_SERVICE_PORT: String(usagePort),
      GATEWAY_PROJECTION_GROUP: `gateway-projection-fault-${run}`,
      USAGE_CONSUMER_GROUP: `usage-fault-${run}`,
      OPENAI_BASE_URL: `${o.mockUrl}/v1`,
      AZURE_OPENAI_ENDPOINT: o.mockUrl,
      GEMINI_BASE_URL: o.mockUrl,
      OPENAI_API_KEY: 'mock-openai',
      // The mock provider listens on loopback, which the gateway connects to only when allowed.
      ALLOW_PRIVATE_UPSTREAMS: 'true',
      AZURE_OPENAI_API_KEY: 'mock-azure',
      GEMINI_API_KEY: 'mock-gemini',
      ...o.env,
    },
    readyUrl: (app) =>
      `${app === 'key-service' ? stack.keyServiceUrl : app === 'gateway' ? stack.gatewayUrl : stack.usageServiceUrl}/health/ready`,
    start: async (app, overrides = {}) => {
      await distSettled();
      let service: RunningService;
      try {
        service = await startService(stack, app, overrides, stack.readyUrl(app));
      } catch (e) {
        // A build elsewhere began between the check and the start: once more, from the settled build.
        const log = /see (\S+\.log)/.exec((e as Error).message)?.[1];
        if (!log || !(await readFile(log, 'utf8').catch(() => '')).includes('Cannot find module')) throw e;
        await distSettled();
        service = await startService(stack, app, overrides, stack.readyUrl(app));
      }
      stack.services[app] = service;
      stack.pids.push(service.pid);
      return service;
    },
    kill: async (app, signal = 'SIGKILL') => {
      await stack.services[app]?.stop(signal);
      delete stack.services[app];
    },
    destroy: async () => {
      for (const app of Object.keys(stack.services) as ServiceName[]) await stack.kill(app, 'SIGKILL');
      await Promise.all([dropDatabase(keysDatabaseUrl), dropDatabase(usageDatabaseUrl)]).catch(
        () => undefined,
      );
    },
  };
  return stack;
};

// dist/ is shared with everyone working in this tree: while someone's `npm run build` runs, tsc has written
// files that still import '@keygate/...' until tsc-alias rewrites them, and a service started then dies with
// MODULE_NOT_FOUND. Wait for a settled build before each start.
export const distSettled = async (): Promise<void> => {
  const unresolved = async (dir: string): Promise<boolean> => {
    for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
      if (!entry.isFile() || !entry.name.endsWith('.js')) continue;
      const path = join(entry.parentPath, entry.name);
      if ((await readFile(path, 'utf8').catch(() => '')).includes('require("@keygate/')) return true;
    }
    return false;
  };
  await waitFor(
    async () =>
      !(await unresolved(join(ROOT, 'dist', 'apps'))) && !(await unresolved(join(ROOT, 'dist', 'libs'))),
    {
      timeoutMs: 120_000,
      intervalMs: 1_000,
      what: 'a settled build in dist/ (no unresolved @keygate/ imports)',
    },
  );
};

// The suite's steady private broker (global-setup.ts), for the files that break something else.
export const steadyBrokers = (): string[] => {
  const brokers = process.env.KEYGATE_FAULTS_KAFKA;
  if (!brokers)
    throw new Error('KEYGATE_FAULTS_KAFKA is not set: run the fault files through the faults jest project');
  return brokers.split(',');
};

// A fresh consumer group starts at the topics' end, not at other runs' history.
export const startGroupsAtEnd = async (brokers: string[], groups: [string, string][]): Promise<void> => {
  const admin = new Kafka({ clientId: 'keygate-faults', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    for (const [groupId, topic] of groups) await admin.resetOffsets({ groupId, topic, earliest: false });
  } finally {
    await admin.disconnect();
  }
};

// How many live members a consumer group has: 0 means the service's consumer is gone (crashed for good).
export const groupMembers = async (brokers: string[], groupId: string): Promise<number> => {
  const admin = new Kafka({ clientId: 'keygate-faults', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    return groups[0]?.members.length ?? 0;
  } finally {
    await admin.disconnect();
  }
};
