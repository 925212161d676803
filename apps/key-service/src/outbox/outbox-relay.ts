import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { Client } from 'pg';
import type { DataSource } from 'typeorm';
import type { EventEnvelope, Topic } from '@keygate/contracts';
import { EventProducer, extractTraceContext, injectTraceHeaders } from '@keygate/messaging';
import { gauge, histogram } from '@keygate/platform';

const RELAY_LOCK = 7_240_001; // pg advisory lock id: one active relay per database
const BATCH = 500;

const outboxLag = histogram(
  'keygate_outbox_publish_lag_seconds',
  'Commit-to-publish lag of key events',
  [],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 5],
);
const outboxDepth = gauge('keygate_outbox_pending', 'Events committed but not yet published');
const tracer = trace.getTracer('keygate-key-service');

interface OutboxRow {
  global_position: string;
  topic: Topic;
  message_key: string;
  envelope: EventEnvelope;
  headers: Record<string, string>;
  created_at: Date;
}

// Publishes committed events to Kafka in global order (hence in order per aggregate), then deletes them.
// A crash between publish and delete republishes: consumers skip what their stream position already shows.
// A Kafka outage holds the rows and retries; nothing is lost.
@Injectable()
export class OutboxRelay implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('outbox');
  private running = false;
  private wake?: () => void; // ends the current sleep early
  private wakeOnCommit = false; // whether a NOTIFY may end it (a backoff after a failure may not)
  // A commit was announced since the loop last read the outbox: one that lands while a batch is in flight must
  // not wait for the next poll.
  private notified = false;
  // The relay's own connection (outside the pool, so a busy pool never delays a publish): it LISTENs, and once
  // it holds the advisory lock it keeps it, so a cycle is a SELECT and a DELETE.
  private session?: { client: Client; locked: boolean };
  private loop?: Promise<void>;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly producer: EventProducer,
    private readonly pollMs: number,
  ) {}

  onApplicationBootstrap(): void {
    this.running = true;
    this.loop = this.run();
  }

  // Before the connection pool closes: finish the batch in hand, then stop.
  async beforeApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.closeSession();
  }

  private async run(): Promise<void> {
    let backoff = 200;
    while (this.running) {
      try {
        this.notified = false;
        const published = await this.publishOnce();
        backoff = 200;
        // A standby relay (another instance holds the lock) only polls for the lock: commits are not its business.
        if (published < BATCH) await this.sleep(this.pollMs, this.session?.locked === true);
      } catch (e) {
        this.logger.warn(
          `publish failed, holding events and retrying in ${backoff} ms: ${(e as Error).message}`,
        );
        // After a failure both connections start afresh: kafkajs keeps a connection it never heard close (a
        // partition, a half-open socket) and times out on it forever, and so would a query on a dead session.
        await this.producer.disconnect().catch(() => undefined);
        await this.closeSession();
        await this.sleep(backoff, false);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }

  // Returns how many events it published. Only the session holding the advisory lock publishes.
  async publishOnce(): Promise<number> {
    const session = await this.openSession();
    if (!session.locked) {
      const { rows } = await session.client.query<{ locked: boolean }>(
        `SELECT pg_try_advisory_lock($1) AS locked`,
        [RELAY_LOCK],
      );
      if (!rows[0].locked) return 0;
      session.locked = true;
    }
    const { rows } = await session.client.query<OutboxRow>(
      `SELECT * FROM outbox ORDER BY global_position LIMIT $1`,
      [BATCH],
    );
    outboxDepth.set(rows.length);
    if (rows.length === 0) return 0;
    // One outbox.publish span per event, in the trace of the request that appended it (the headers were
    // captured then): the REST call, its publish and the gateway's projection.apply share one trace.
    const spans = new Map<OutboxRow, Span>();
    const headersOf = (r: OutboxRow) => {
      const parent = extractTraceContext(r.headers);
      const span = tracer.startSpan(
        'outbox.publish',
        {
          attributes: {
            'keygate.event.type': r.envelope.type,
            'keygate.aggregate.id': r.message_key,
            'keygate.global_position': Number(r.global_position),
            'keygate.outbox.batch_size': rows.length,
          },
        },
        parent,
      );
      spans.set(r, span);
      return { ...r.headers, ...injectTraceHeaders(trace.setSpan(parent, span)) };
    };
    const byTopic = new Map<Topic, OutboxRow[]>();
    for (const r of rows) {
      const list = byTopic.get(r.topic);
      if (list) list.push(r);
      else byTopic.set(r.topic, [r]);
    }
    try {
      await this.producer.sendBatch(
        [...byTopic].map(([topic, rs]) => ({
          topic,
          events: rs.map((r) => ({ key: r.message_key, envelope: r.envelope, headers: headersOf(r) })),
        })),
      );
      const now = Date.now();
      for (const r of rows) outboxLag.observe((now - r.created_at.getTime()) / 1000);
      await session.client.query(`DELETE FROM outbox WHERE global_position = ANY($1::bigint[])`, [
        rows.map((r) => r.global_position),
      ]);
    } catch (e) {
      for (const span of spans.values())
        span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      throw e;
    } finally {
      for (const span of spans.values()) span.end();
    }
    return rows.length;
  }

  // LISTEN/NOTIFY wakes the relay right after a commit; polling remains the safety net.
  private async openSession(): Promise<{ client: Client; locked: boolean }> {
    if (this.session) return this.session;
    const options = this.db.options as { url?: string };
    const client = new Client({
      connectionString: options.url,
      connectionTimeoutMillis: 3000,
      keepAlive: true,
      query_timeout: 30_000,
    });
    const session = { client, locked: false };
    client.on('error', () => {
      // The session, and with it the lock, is gone; the next cycle opens another one.
      if (this.session === session) this.session = undefined;
      void client.end().catch(() => undefined);
    });
    client.on('notification', () => {
      this.notified = true;
      if (this.wakeOnCommit) this.wake?.();
    });
    try {
      await client.connect();
      await client.query('LISTEN outbox');
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    this.session = session;
    return session;
  }

  // Ending the session releases the advisory lock: another instance's relay may take over.
  private async closeSession(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.client.end().catch(() => undefined);
  }

  private sleep(ms: number, wakeOnCommit: boolean): Promise<void> {
    if (!this.running || (wakeOnCommit && this.notified)) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
      this.wakeOnCommit = wakeOnCommit;
    });
  }
}
