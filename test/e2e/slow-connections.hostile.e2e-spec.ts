import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { Topics } from '@keygate/contracts';
import { freeTestPort, skipHistory, startService, testStack, type RunningService } from '@keygate/testing';

// Issue 14: idle, slow-header and slow-body clients no longer hold a service. A gateway and a key-service of
// their own run with short deadlines (headers 1 s, whole request 2 s, keep-alive 1 s); every hostile connection
// is closed by the server within its deadline plus Node's 1 s check interval, while normal requests keep
// their latency.
const HEADERS_MS = 1_000;
const REQUEST_MS = 2_000;
const KEEP_ALIVE_MS = 1_000;
const CHECK_MS = 1_000; // connectionsCheckingInterval (connection-limits.ts)
const SLACK_MS = 1_000;

interface Held {
  kind: 'idle' | 'slow headers' | 'slow body' | 'idle keep-alive';
  closedAfterMs: Promise<number>;
}

const open = (port: number, kind: Held['kind']): Held => {
  const started = Date.now();
  const socket: Socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  let drip: NodeJS.Timeout | undefined;
  const closedAfterMs = new Promise<number>((resolve) =>
    socket.once('close', () => {
      clearInterval(drip);
      resolve(Date.now() - started);
    }),
  );
  socket.once('connect', () => {
    if (kind === 'slow headers') {
      socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n');
      drip = setInterval(() => socket.write('x-slow: 1\r\n'), 250);
    } else if (kind === 'slow body') {
      socket.write(
        'POST /v1/keys HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 10000\r\n\r\n{',
      );
      drip = setInterval(() => socket.write(' '), 250);
    } else if (kind === 'idle keep-alive') {
      socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n'); // answered, then the connection idles
    }
  });
  return { kind, closedAfterMs };
};

const limitOf = (kind: Held['kind']): number =>
  (kind === 'slow body' ? REQUEST_MS : kind === 'idle keep-alive' ? KEEP_ALIVE_MS : HEADERS_MS) +
  CHECK_MS +
  SLACK_MS;

const latencies = async (url: string, n: number): Promise<number[]> => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const res = await fetch(url);
    await res.text();
    expect(res.status).toBe(200);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
};

describe('slow and idle connections', () => {
  const stack = testStack();
  const run = randomBytes(4).toString('hex');
  const services: RunningService[] = [];
  const ports: Record<'gateway' | 'key-service', number> = { gateway: 0, 'key-service': 0 };
  const deadlines = {
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_MS),
  };

  beforeAll(async () => {
    const [gatewayPort, keysPort, grpcPort] = [
      await freeTestPort(),
      await freeTestPort(),
      await freeTestPort(),
    ];
    Object.assign(ports, { gateway: gatewayPort, 'key-service': keysPort });
    const group = `gateway-projection-slow-${run}`;
    await skipHistory([[group, Topics.keysEvents]]);
    services.push(
      ...(await Promise.all([
        startService(
          stack,
          'gateway',
          { ...deadlines, GATEWAY_PORT: String(gatewayPort), GATEWAY_PROJECTION_GROUP: group },
          `http://127.0.0.1:${gatewayPort}/health/ready`,
        ),
        startService(
          stack,
          'key-service',
          { ...deadlines, KEY_SERVICE_HTTP_PORT: String(keysPort), KEY_SERVICE_GRPC_PORT: String(grpcPort) },
          `http://127.0.0.1:${keysPort}/health/ready`,
        ),
      ])),
    );
  }, 90_000);
  afterAll(async () => {
    for (const s of services) await s.stop().catch(() => undefined);
  });

  it.each(['gateway', 'key-service'] as const)(
    '%s closes idle and slow clients within its deadlines and keeps serving',
    async (service) => {
      const port = ports[service];
      const live = `http://127.0.0.1:${port}/health/live`;
      const before = await latencies(live, 20);
      const held: Held[] = (['idle', 'slow headers', 'slow body', 'idle keep-alive'] as const).flatMap(
        (kind) => Array.from({ length: 15 }, () => open(port, kind)),
      );
      const during = await latencies(live, 20);
      const closed = await Promise.all(held.map(async (h) => ({ kind: h.kind, ms: await h.closedAfterMs })));
      for (const c of closed)
        expect({ ...c, withinLimit: c.ms <= limitOf(c.kind) }).toMatchObject({ withinLimit: true });
      // Held connections cost the event loop nothing noticeable: the median stays where it was.
      const median = (xs: number[]) => xs[Math.floor(xs.length / 2)];
      expect(median(during)).toBeLessThan(median(before) * 3 + 20);
    },
    30_000,
  );
});
