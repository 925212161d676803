import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@keygate/stack';
import { api } from '@keygate/testing/stack/api-client';
import { waitForGateway } from '@keygate/testing/stack/key-fixtures';
import { freeTestPort } from '@keygate/testing/stack/test-stack';
import { onCleanup, startService, type Proc } from './processes';

// keygate as it runs in production, on the bench's private infrastructure: the built key-service (keys arrive
// through the real path: REST → PostgreSQL + outbox → Kafka → projection in Redis → gateway), one or more
// gateways, optionally the usage-service.

export interface KeygateOptions {
  run: string;
  logDir: string;
  kafkaBrokers: string;
  redisUrl: string;
  // A Redis Cluster's seed nodes (REDIS_CLUSTER_NODES): the gateways use it instead of redisUrl.
  redisClusterNodes?: string;
  keysDatabaseUrl: string;
  usageDatabaseUrl?: string; // starts a usage-service when set
  mockUrl: string;
  gateways: number;
  // Extra environment for the gateways (AUTH_CACHE_MAX, OTEL_*...), and for the i-th gateway alone.
  gatewayEnv?: Record<string, string>;
  perGatewayEnv?: Record<string, string>[];
  gatewayNodeArgs?: string[];
  // The i-th gateway from another build's root (default: this one), e.g. the commit before a change.
  perGatewayBuildRoot?: (string | undefined)[];
}

export interface Keygate {
  adminToken: string;
  keyServiceUrl: string;
  usageServiceUrl?: string;
  gatewayUrls: string[];
  gateways: Proc[];
  keyService: Proc;
  usageService?: Proc;
  env: Record<string, string>;
  createKey(body?: Record<string, unknown>, waitOn?: string[]): Promise<{ id: string; key: string }>;
  createGroup(routes: string[]): Promise<string>;
  // A key and its group travel on different partitions (possibly to different instances): until every gateway
  // lists the route, a request for it may still get 404.
  waitForRoute(key: string, route: string): Promise<void>;
  stop(): Promise<void>;
}

// The key every gateway bench measures: every feature on, none of them ever refusing (rate limit, token limit,
// budget, IP allow list).
export const BENCH_KEY = {
  rateLimit: { requestsPerMinute: 10_000_000, tokensPerMinute: 1_000_000_000 },
  budget: { amountUsd: '1000000', period: 'month' },
  ipAllow: ['127.0.0.0/8', '::1/128'],
};

export const startKeygate = async (o: KeygateOptions): Promise<Keygate> => {
  const [keysPort, grpcPort, usagePort] = [await freeTestPort(), await freeTestPort(), await freeTestPort()];
  const gatewayPorts: number[] = [];
  for (let i = 0; i < o.gateways; i++) gatewayPorts.push(await freeTestPort());
  const adminToken = `kgadm_bench_${randomBytes(16).toString('hex')}`;
  const keyServiceUrl = `http://127.0.0.1:${keysPort}`;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    ADMIN_TOKEN: adminToken,
    KEYGATE_MASTER_KEY: randomBytes(32).toString('base64'),
    KAFKA_BROKERS: o.kafkaBrokers,
    KEYS_DATABASE_URL: o.keysDatabaseUrl,
    ...(o.usageDatabaseUrl ? { USAGE_DATABASE_URL: o.usageDatabaseUrl } : {}),
    REDIS_URL: o.redisUrl,
    ...(o.redisClusterNodes ? { REDIS_CLUSTER_NODES: o.redisClusterNodes } : {}),
    KEY_SERVICE_HTTP_PORT: String(keysPort),
    KEY_SERVICE_GRPC_PORT: String(grpcPort),
    KEY_SERVICE_GRPC_URL: `127.0.0.1:${grpcPort}`,
    USAGE_SERVICE_PORT: String(usagePort),
    GATEWAY_PROJECTION_GROUP: `gateway-projection-bench-${o.run}`,
    USAGE_CONSUMER_GROUP: `usage-bench-${o.run}`,
    OPENAI_BASE_URL: `${o.mockUrl}/v1`,
    AZURE_OPENAI_ENDPOINT: o.mockUrl,
    GEMINI_BASE_URL: o.mockUrl,
    OPENAI_API_KEY: 'mock-openai',
    // The mock provider listens on loopback, which the gateway connects to only when allowed.
    ALLOW_PRIVATE_UPSTREAMS: 'true',
    AZURE_OPENAI_API_KEY: 'mock-azure',
    GEMINI_API_KEY: 'mock-gemini',
    // Only the gateways are measured; the other services do not trace unless a bench asks for it.
    OTEL_SDK_DISABLED: 'true',
    // One process per gateway, measured by its pid (bench/workers.ts measures GATEWAY_WORKERS).
    GATEWAY_WORKERS: '1',
  };
  const keyService = await startService(
    'key-service',
    'key-service',
    env,
    `${keyServiceUrl}/health/ready`,
    o.logDir,
  );
  onCleanup('key-service', () => keyService.stop());
  // Settled, not Promise.all: when one gateway fails to start, the others are still starting, and a bench that
  // exited then would leave them running with nothing to stop them. Each is stopped at cleanup once it is up.
  const started = await Promise.allSettled(
    gatewayPorts.map(async (port, i) => {
      const g = await startService(
        'gateway',
        `gateway-${i + 1}`,
        { ...env, ...o.gatewayEnv, ...o.perGatewayEnv?.[i], GATEWAY_PORT: String(port) },
        `http://127.0.0.1:${port}/health/ready`,
        o.logDir,
        o.gatewayNodeArgs,
        undefined,
        o.perGatewayBuildRoot?.[i],
      );
      onCleanup(`gateway-${i + 1}`, () => g.stop());
      return g;
    }),
  );
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  const gateways = started.map((r) => (r as PromiseFulfilledResult<Proc>).value);
  let usageService: Proc | undefined;
  const usageServiceUrl = o.usageDatabaseUrl ? `http://127.0.0.1:${usagePort}` : undefined;
  if (usageServiceUrl) {
    usageService = await startService(
      'usage-service',
      'usage-service',
      env,
      `${usageServiceUrl}/health/ready`,
      o.logDir,
    );
    onCleanup('usage-service', () => usageService!.stop());
  }
  const gatewayUrls = gatewayPorts.map((p) => `http://127.0.0.1:${p}`);
  const admin = api(keyServiceUrl, adminToken);
  const createGroup = async (routes: string[]): Promise<string> => {
    const g = await admin<{ id: string }>('POST', '/v1/groups', {
      name: `bench-${randomBytes(6).toString('hex')}`,
      routes,
    });
    if (g.status !== 201) throw new Error(`group create failed: ${JSON.stringify(g.body)}`);
    return g.body.id;
  };
  return {
    adminToken,
    keyServiceUrl,
    usageServiceUrl,
    gatewayUrls,
    gateways,
    keyService,
    usageService,
    env,
    createGroup,
    createKey: async (body = {}, waitOn = gatewayUrls) => {
      const k = await admin<{ id: string; key: string }>('POST', '/v1/keys', {
        name: `bench-${randomBytes(4).toString('hex')}`,
        ownerId: `bench-${o.run}`,
        ...body,
      });
      if (k.status !== 201) throw new Error(`key create failed: ${JSON.stringify(k.body)}`);
      for (const url of waitOn) await waitForGateway(url, k.body.key, 30_000);
      return { id: k.body.id, key: k.body.key };
    },
    waitForRoute: async (key, route) => {
      for (const url of gatewayUrls)
        await waitFor(
          async () => {
            const res = await fetch(`${url}/v1/models`, { headers: { authorization: `Bearer ${key}` } });
            return (
              res.ok && ((await res.json()) as { data: { id: string }[] }).data.some((d) => d.id === route)
            );
          },
          { timeoutMs: 30_000, intervalMs: 100, what: `${route} for the bench key at ${url}` },
        );
    },
    stop: async () => {
      await Promise.all([...gateways.map((g) => g.stop()), usageService?.stop()]);
      await keyService.stop();
    },
  };
};

// An OTLP/HTTP endpoint that accepts and drops everything: the exporters' full cost, none of a collector's.
export const startOtlpSink = async (): Promise<{ url: string; requests: () => number }> => {
  let requests = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests++;
      // A success in the request's own encoding: an empty message is zero bytes of protobuf, `{}` of JSON. (JSON
      // to a protobuf exporter made it throw, and catch, a decoding error on every export.)
      const json = req.headers['content-type']?.includes('json') === true;
      res
        .writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' })
        .end(json ? '{}' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  onCleanup('OTLP sink', () => {
    const closed = new Promise<void>((r) => server.close(() => r()));
    server.closeAllConnections();
    return closed;
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
};

// The gateway's telemetry configurations a side-by-side bench can load (BENCH_CONFIGS, a comma-separated list of
// kinds), metrics and traces to the OTLP sink at `sinkUrl`. A kind `env:NAME=value` is the shipped default with one
// more variable (e.g. `env:USAGE_FLUSH_MS=100`).
export const telemetryConfigs = (
  sinkUrl: string,
  kinds: string,
): { kind: string; name: string; env: Record<string, string> }[] => {
  const wanted = kinds.split(',');
  const otlp = {
    OTEL_SDK_DISABLED: 'false',
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_SERVICE_NAME: 'gateway',
  };
  return [
    { kind: 'default', name: 'shipped default (0.1)', env: otlp },
    {
      kind: 'traced',
      name: 'every request traced',
      env: { ...otlp, OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
    },
    // Tracing on, nothing sampled: what the tracing machinery costs a request that is not traced.
    {
      kind: 'unsampled',
      name: 'nothing sampled',
      env: { ...otlp, OTEL_TRACES_SAMPLER: 'parentbased_always_off' },
    },
    // The shipped sampler at a ratio of 0 (nothing a request starts is traced), metrics still pushed.
    { kind: 'ratio0', name: 'ratio 0', env: { ...otlp, OTEL_TRACES_SAMPLER_ARG: '0' } },
    // The shipped default without the OTLP metric push (GET /metrics only, as with tracing off).
    { kind: 'nopush', name: 'default, no metric push', env: { ...otlp, OTEL_METRICS_EXPORTER: 'none' } },
    { kind: 'off', name: 'tracing off', env: { OTEL_SDK_DISABLED: 'true' } },
    ...wanted
      .filter((k) => k.startsWith('env:') && k.includes('='))
      .map((k) => {
        const at = k.indexOf('=');
        const [name, value] = [k.slice(4, at), k.slice(at + 1)];
        return { kind: k, name: `shipped default, ${name}=${value}`, env: { ...otlp, [name]: value } };
      }),
  ].filter((k) => wanted.includes(k.kind));
};
