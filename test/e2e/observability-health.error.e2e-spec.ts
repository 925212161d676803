import { randomBytes } from 'node:crypto';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { Topics, type Topic } from '@keygate/contracts';
import {
  eventually,
  freeTestPort,
  KAFKA_BROKERS,
  startService,
  testStack,
  type RunningService,
} from '@keygate/testing';

// /health/live answers while the process runs; /health/ready checks the real dependencies and answers 503,
// naming the one that is down, when one is. Each service here reaches its PostgreSQL or Redis through a TCP
// proxy this test can cut and restore, like a network partition.

interface Proxy {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

const tcpProxy = async (targetPort: number): Promise<Proxy> => {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const open = () =>
    new Promise<void>((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, '127.0.0.1');
        for (const sock of [client, upstream]) {
          sockets.add(sock);
          sock.on('close', () => sockets.delete(sock));
          sock.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        port = (s.address() as AddressInfo).port;
        server = s;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const sock of sockets) sock.destroy();
    await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
  };
  await open();
  return { port, cut, restore: open, close: cut };
};

// A new consumer group would replay the shared topic from its start (every earlier run's events) into this
// run's databases: it begins at the end instead.
const startAtEnd = async (groups: [string, Topic][]): Promise<void> => {
  const admin = new Kafka({
    clientId: 'e2e-health',
    brokers: KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    for (const [groupId, topic] of groups) {
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
    }
  } finally {
    await admin.disconnect();
  }
};

interface Readiness {
  status: number;
  body: {
    status: string;
    info?: Record<string, unknown>;
    error?: Record<string, { status: string; message?: string }>;
  };
}
const ready = async (baseUrl: string): Promise<Readiness> => {
  const res = await fetch(`${baseUrl}/health/ready`);
  return { status: res.status, body: (await res.json()) as Readiness['body'] };
};

describe('observability: health', () => {
  const stack = testStack();
  const run = randomBytes(4).toString('hex');
  const started: RunningService[] = [];
  const proxies: Proxy[] = [];

  afterAll(async () => {
    await Promise.all(started.map((s) => s.stop()));
    await Promise.all(proxies.map((p) => p.close()));
  });

  it.each([
    ['key-service', ['kafka', 'postgres'], () => stack.keyServiceUrl],
    ['gateway', ['kafka', 'redis'], () => stack.gatewayUrl],
    ['usage-service', ['kafka', 'postgres'], () => stack.usageServiceUrl],
  ] as const)('%s is live, and ready when %j answer', async (_name, dependencies, url) => {
    const live = await fetch(`${url()}/health/live`);
    expect(live.status).toBe(200);
    // The services run on the Node.js running the tests (process.execPath): the project's Node 24.
    expect(await live.json()).toEqual({ status: 'ok', node: process.version });
    expect(process.version).toMatch(/^v(2[4-9]|[3-9]\d)\./);
    const r = await ready(url());
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('ok');
    expect(Object.keys(r.body.info ?? {})).toEqual(expect.arrayContaining([...dependencies]));
  });

  const partition = async (
    app: 'key-service' | 'gateway' | 'usage-service',
    dependency: 'postgres' | 'redis',
    overrides: (proxyPort: number, ports: number[]) => Record<string, string>,
    urlOf: (ports: number[]) => string,
  ) => {
    const proxy = await tcpProxy(dependency === 'redis' ? 6379 : 5432);
    proxies.push(proxy);
    const ports = await Promise.all([freeTestPort(), freeTestPort()]);
    const url = urlOf(ports);
    started.push(await startService(stack, app, overrides(proxy.port, ports), `${url}/health/ready`));

    await proxy.cut();
    const down = await eventually(
      () => ready(url),
      (r) => r.status === 503,
      { timeoutMs: 15_000, intervalMs: 250 },
    );
    expect(down.body.status).toBe('error');
    expect(down.body.error?.[dependency]?.status).toBe('down');
    // The reason, never a connection string.
    expect(JSON.stringify(down.body)).not.toMatch(/(postgres|redis):\/\//);
    expect((await fetch(`${url}/health/live`)).status).toBe(200);

    await proxy.restore();
    await eventually(
      () => ready(url),
      (r) => r.status === 200,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  };

  it('gateway: ready is 503 while Redis is unreachable, and recovers', async () => {
    const redisDb = new URL(stack.redisUrl).pathname || '/0';
    await startAtEnd([[`gateway-projection-e2e-health-${run}`, Topics.keysEvents]]);
    await partition(
      'gateway',
      'redis',
      (proxyPort, [port]) => ({
        REDIS_URL: `redis://127.0.0.1:${proxyPort}${redisDb}`,
        GATEWAY_PORT: String(port),
        GATEWAY_PROJECTION_GROUP: `gateway-projection-e2e-health-${run}`,
      }),
      ([port]) => `http://127.0.0.1:${port}`,
    );
  });

  it('usage-service: ready is 503 while PostgreSQL is unreachable, and recovers', async () => {
    await startAtEnd([
      [`usage-e2e-health-${run}`, Topics.usageRequests],
      [`usage-e2e-health-${run}-key-directory`, Topics.keysEvents],
    ]);
    await partition(
      'usage-service',
      'postgres',
      (proxyPort, [port]) => ({
        USAGE_DATABASE_URL: stack.usageDatabaseUrl.replace(':5432/', `:${proxyPort}/`),
        USAGE_SERVICE_PORT: String(port),
        USAGE_CONSUMER_GROUP: `usage-e2e-health-${run}`,
      }),
      ([port]) => `http://127.0.0.1:${port}`,
    );
  });

  it('key-service: ready is 503 while PostgreSQL is unreachable, and recovers', async () => {
    await partition(
      'key-service',
      'postgres',
      (proxyPort, [port, grpcPort]) => ({
        KEYS_DATABASE_URL: stack.keysDatabaseUrl.replace(':5432/', `:${proxyPort}/`),
        KEY_SERVICE_HTTP_PORT: String(port),
        KEY_SERVICE_GRPC_PORT: String(grpcPort),
      }),
      ([port]) => `http://127.0.0.1:${port}`,
    );
  });
});
