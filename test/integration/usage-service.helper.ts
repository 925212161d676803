import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, openSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { Pool } from 'pg';
import {
  aggregateOf,
  makeEnvelope,
  REQUEST_COMPLETED,
  Topics,
  type DomainEvent,
  type EventEnvelope,
  type RequestCompletedData,
  type Topic,
} from '@keygate/contracts';
import { dropDatabase, ensurePostgres, waitFor } from '@keygate/stack';
import { freeTestPort } from '@keygate/testing/stack/test-stack';

// The built usage-service as child processes against the real PostgreSQL and Kafka: one throwaway database and
// consumer group per test file. Consumer groups start at the current end of the shared topics, so events other
// runs left there do not matter; tests produce events with ids (keys, requests) unique to the run.

export const KAFKA_BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const PG = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432';
const ROOT = resolve(__dirname, '..', '..');
const MAIN = join(ROOT, 'dist', 'apps', 'usage-service', 'src', 'main.js');

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const runId = () => randomBytes(4).toString('hex');

// A key event as key-service's outbox publishes it: its aggregate's id is the subject (and the message key).
export const keyEventEnvelope = (event: DomainEvent, streamPosition: number, time?: Date): EventEnvelope =>
  makeEnvelope({
    type: event.type,
    data: event.data,
    source: 'key-service',
    subject: aggregateOf(event)!.id,
    streamPosition,
    time,
  });

export interface UsageProcess {
  url: string;
  pid: number;
  logFile: string;
  child: ChildProcess;
  exited: Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export class UsageHarness {
  readonly adminToken = `kgadm_it_${randomBytes(16).toString('hex')}`;
  readonly masterKey = randomBytes(32).toString('base64');
  readonly processes = new Set<UsageProcess>();
  private readonly kafka = new Kafka({
    clientId: 'usage-it',
    brokers: KAFKA_BROKERS,
    logLevel: logLevel.NOTHING,
  });
  private producer?: Producer;

  private constructor(
    readonly label: string,
    readonly databaseUrl: string,
    readonly groupId: string,
    readonly pool: Pool,
    readonly env: Record<string, string>,
    readonly logDir: string,
  ) {}

  static async create(label: string, env: Record<string, string> = {}): Promise<UsageHarness> {
    if (!existsSync(MAIN))
      throw new Error(`${MAIN} is missing: run \`npm run build\` before the integration tests`);
    const run = runId();
    const databaseUrl = `${PG}/keygate_usage_it_${label.replace(/\W/g, '_')}_${run}`;
    await ensurePostgres([databaseUrl], () => undefined);
    const logDir = join(ROOT, '.stack', `usage-it-${label}-${run}`);
    mkdirSync(logDir, { recursive: true });
    const h = new UsageHarness(
      label,
      databaseUrl,
      `usage-it-${label}-${run}`,
      new Pool({ connectionString: databaseUrl, max: 4 }),
      env,
      logDir,
    );
    // Both groups of the service start at the current end of their topics.
    await h.seekToEnd(h.groupId, Topics.usageRequests);
    await h.seekToEnd(`${h.groupId}-key-directory`, Topics.keysEvents);
    return h;
  }

  async seekToEnd(groupId: string, topic: Topic): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId,
        topic,
        partitions: offsets.map((o) => ({ partition: o.partition, offset: o.high })),
      });
    } finally {
      await admin.disconnect();
    }
  }

  // Starts one instance (same database and consumer group as the others) and waits until it is ready.
  async start(overrides: Record<string, string> = {}): Promise<UsageProcess> {
    const port = await freeTestPort();
    const logFile = join(this.logDir, `usage-${Date.now()}-${randomBytes(2).toString('hex')}.log`);
    const child = spawn(process.execPath, ['--enable-source-maps', MAIN], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        LOG_LEVEL: 'info',
        KAFKA_BROKERS: KAFKA_BROKERS.join(','),
        USAGE_DATABASE_URL: this.databaseUrl,
        USAGE_SERVICE_PORT: String(port),
        USAGE_CONSUMER_GROUP: this.groupId,
        USAGE_CONSUMER_SESSION_TIMEOUT_MS: '6000',
        ADMIN_TOKEN: this.adminToken,
        KEYGATE_MASTER_KEY: this.masterKey,
        KEY_SERVICE_GRPC_URL: '127.0.0.1:9', // no key-service unless a test sets one
        OTEL_SDK_DISABLED: 'true',
        ALLOW_PRIVATE_UPSTREAMS: 'true', // webhook receivers are loopback listeners the tests own
        ...this.env,
        ...overrides,
      },
      stdio: ['ignore', openSync(logFile, 'w'), openSync(logFile, 'a')],
      detached: true,
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const proc: UsageProcess = {
      url: `http://127.0.0.1:${port}`,
      pid: child.pid!,
      logFile,
      child,
      exited,
      kill: async (signal = 'SIGTERM') => {
        if (child.exitCode === null && child.signalCode === null) {
          try {
            process.kill(-child.pid!, signal);
          } catch {
            /* gone */
          }
        }
        await exited;
        this.processes.delete(proc);
      },
    };
    this.processes.add(proc);
    await waitFor(
      async () => {
        if (child.exitCode !== null)
          throw new Error(`usage-service exited (${child.exitCode}); see ${logFile}`);
        const res = await fetch(`${proc.url}/health/ready`).catch(() => null);
        return res?.ok ?? false;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `usage-service ready at ${proc.url}` },
    );
    return proc;
  }

  async produce(topic: Topic, messages: { key: string; envelope: EventEnvelope | string }[]): Promise<void> {
    if (!this.producer) {
      // Not idempotent: a retried send may duplicate a message, which is exactly what usage-service must absorb.
      this.producer = this.kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
      await this.producer.connect();
    }
    const chunks: (typeof messages)[] = [];
    for (let i = 0; i < messages.length; i += 5000) chunks.push(messages.slice(i, i + 5000));
    // A few sends in flight: order across chunks does not matter to the consumer, only within a key, and a key's
    // duplicates may arrive in any order anyway.
    for (let i = 0; i < chunks.length; i += 4) {
      await Promise.all(
        chunks.slice(i, i + 4).map((chunk) =>
          this.producer!.send({
            topic,
            acks: -1,
            messages: chunk.map((m) => ({
              key: m.key,
              value: typeof m.envelope === 'string' ? m.envelope : JSON.stringify(m.envelope),
            })),
          }),
        ),
      );
    }
  }

  produceUsage(events: RequestCompletedData[]): Promise<void> {
    return this.produce(
      Topics.usageRequests,
      events.map((data) => ({ key: data.keyId ?? 'anonymous', envelope: usageEnvelope(data) })),
    );
  }

  // Key events as key-service's outbox would publish them: stream positions per aggregate, keyed by its id.
  produceKeyEvents(events: { event: DomainEvent; streamPosition: number; time?: Date }[]): Promise<void> {
    return this.produce(
      Topics.keysEvents,
      events.map(({ event, streamPosition, time }) => {
        const envelope = keyEventEnvelope(event, streamPosition, time);
        return { key: envelope.subject, envelope };
      }),
    );
  }

  query<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.pool.query(sql, params).then((r) => r.rows as T[]);
  }

  api(proc: UsageProcess, token = this.adminToken) {
    return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => {
      const res = await fetch(`${proc.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        /* CSV or empty */
      }
      return { status: res.status, body: parsed as T };
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.processes].map((p) => p.kill('SIGKILL')));
    await this.producer?.disconnect().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
    const admin = this.kafka.admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteGroups([this.groupId, `${this.groupId}-key-directory`]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await dropDatabase(this.databaseUrl).catch(() => undefined);
  }
}

export const usageEnvelope = (data: RequestCompletedData): EventEnvelope =>
  makeEnvelope({
    type: REQUEST_COMPLETED,
    source: 'gateway',
    subject: data.keyId ?? 'anonymous',
    correlationId: data.requestId,
    data,
  });

// A RequestCompleted with sensible defaults: a successful gpt-4o-mini chat call from 203.0.113.10.
export const usage = (
  over: Partial<RequestCompletedData> & { keyId: string | null },
): RequestCompletedData => ({
  requestId: `req_${randomUUID().replace(/-/g, '')}`,
  route: 'gpt-4o-mini',
  provider: 'openai-main',
  upstreamModel: 'gpt-4o-mini',
  endpoint: 'chat',
  status: 200,
  outcome: 'success',
  errorCode: null,
  promptTokens: 10,
  completionTokens: 20,
  streamed: false,
  latencyMs: 12,
  clientIp: '203.0.113.10',
  time: new Date().toISOString(),
  ...over,
});

export const eventuallyRows = async <T>(
  read: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const last = await read();
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`${what} not met within ${timeoutMs} ms; last: ${JSON.stringify(last)?.slice(0, 800)}`);
    await sleep(200);
  }
};
