import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import type { DataSource } from 'typeorm';
import { REQUEST_COMPLETED, Topics, type RequestCompletedData } from '@keygate/contracts';
import { EventConsumer, withMessageSpans, type IncomingEvent } from '@keygate/messaging';
import { counter, gauge, histogram, networkOf } from '@keygate/platform';
import { BackgroundConsumer } from '../background/background-consumer';
import { Pricing } from '../costs/pricing';
import { LedgerPartitions } from './ledger-partitions';
import { LedgerWriter } from './ledger-writer';
import { requestCompletedProblems, unstorable } from './request-completed.validator';
import { admission, utcDay } from './retention';
import type { AfterIngest, UsageRow } from './usage-row';

const ingested = counter('keygate_usage_ingested_total', 'RequestCompleted events ingested', ['result']);
const ingestLag = gauge('keygate_usage_ingest_lag_seconds', 'Age of the last ingested usage event');
const listenerFailures = counter('keygate_usage_listener_failures_total', 'After-ingest listener failures', [
  'listener',
]);
const batchSeconds = histogram(
  'keygate_usage_ingest_batch_seconds',
  'Time to write one batch to the ledger',
  [],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
);
const listenerSeconds = histogram(
  'keygate_usage_listener_seconds',
  'Time an after-ingest listener takes per batch',
  ['listener'],
  [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
);
const tracer = trace.getTracer('keygate-usage-service');

export interface IngestOptions {
  groupId: string;
  sessionTimeout: number;
  concurrency: number;
  retentionDays: number;
  // Positions a group that never committed (USAGE_CONSUMER_START) before the consumer starts.
  positionNewGroup: () => Promise<void>;
}

// Ingests usage.requests in batches: validate (a bad message goes to dead_letters with its reason, the stream goes
// on), price, write the batch with its aggregates in one statement (LedgerWriter), run the after-ingest listeners
// (budgets, anomalies); the consumer commits offsets only after all that. A crash anywhere re-delivers the batch,
// and the writer's dedupe makes the second pass change nothing: exactly-once in effect.
@Injectable()
export class UsageIngestConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ingest');
  private readonly writer: LedgerWriter;
  private readonly runner: BackgroundConsumer;

  constructor(
    private readonly db: DataSource,
    consumer: EventConsumer,
    private readonly pricing: Pricing,
    private readonly partitions: LedgerPartitions,
    private readonly listeners: AfterIngest[],
    private readonly options: IngestOptions,
    private readonly clock: () => number = Date.now,
  ) {
    this.writer = new LedgerWriter(db, pricing.version);
    this.runner = new BackgroundConsumer('ingest', consumer);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.partitions.prepare();
    await this.options.positionNewGroup();
    this.runner.start({
      groupId: this.options.groupId,
      topics: [Topics.usageRequests],
      fromBeginning: true,
      sessionTimeout: this.options.sessionTimeout,
      partitionsConcurrently: this.options.concurrency,
      handle: (events) => this.ingest(events),
      onMalformed: (raw, reason, meta) => this.deadLetter([{ meta, reason, raw }]),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runner.stop();
  }

  async ingest(events: IncomingEvent[]): Promise<void> {
    const rows: UsageRow[] = [];
    const valid: IncomingEvent[] = [];
    const rejected: DeadLetter[] = [];
    const now = this.clock();
    for (const e of events) {
      const checked = this.validate(e, now);
      if (typeof checked === 'string') {
        rejected.push({
          meta: { topic: Topics.usageRequests, partition: e.partition, offset: e.offset },
          reason: checked,
          raw: JSON.stringify(e.envelope),
        });
        continue;
      }
      rows.push(checked);
      valid.push(e);
    }
    // One statement for all of the batch's bad messages: replaying a backlog of them stays fast.
    await this.deadLetter(rejected);
    if (rows.length === 0) return;
    // One usage.ingest span per event, in the trace of the gateway request it records (a child, not a link);
    // the batch's SQL hangs under the first one.
    await withMessageSpans(
      tracer,
      'usage.ingest',
      valid,
      (i) => ({
        'keygate.request.id': rows[i].requestId,
        'keygate.key.id': rows[i].keyId ?? '',
        'keygate.batch.size': rows.length,
      }),
      async () => {
        const end = batchSeconds.startTimer();
        try {
          await this.partitions.ensure(rows.map((r) => utcDay(r.timeMs)));
          const inserted = await this.writeIsolating(events, rows);
          ingested.inc({ result: 'new' }, inserted);
          ingested.inc({ result: 'duplicate' }, rows.length - inserted);
        } finally {
          end();
        }
      },
    );
    ingestLag.set((now - Date.parse(events[events.length - 1].envelope.time)) / 1000);
    await this.notify(rows);
  }

  // A data error (SQLSTATE class 22) is the row's fault, not the database's: rather than failing the batch on every
  // redelivery, the rows are written one by one and the one the database refuses is dead-lettered with its reason.
  // Each row still goes through the same dedupe statement, so nothing is counted twice.
  private async writeIsolating(events: IncomingEvent[], rows: UsageRow[]): Promise<number> {
    try {
      return await this.writer.write(rows);
    } catch (e) {
      if (!String((e as { code?: string }).code ?? '').startsWith('22')) throw e;
    }
    let inserted = 0;
    for (const row of rows) {
      try {
        inserted += await this.writer.write([row]);
      } catch (e) {
        if (!String((e as { code?: string }).code ?? '').startsWith('22')) throw e;
        const source = events.find(
          (x) => (x.envelope.data as { requestId?: string }).requestId === row.requestId,
        );
        await this.deadLetter([
          {
            meta: {
              topic: Topics.usageRequests,
              partition: source?.partition ?? -1,
              offset: source?.offset ?? row.requestId,
            },
            reason: `refused by the ledger: ${(e as Error).message.slice(0, 200)}`,
            raw: source ? JSON.stringify(source.envelope) : null,
          },
        ]);
      }
    }
    return inserted;
  }

  // The ledger is what users are billed from: a failing listener is retried a few times, then logged and
  // counted, and never stops ingestion. Budgets re-check on the key's next batch; alerts may be missed.
  private async notify(rows: UsageRow[]): Promise<void> {
    for (const listener of this.listeners) {
      for (let attempt = 1; ; attempt++) {
        const end = listenerSeconds.startTimer({ listener: listener.name });
        try {
          await listener.afterIngest(rows);
          end();
          break;
        } catch (e) {
          if (attempt < 3) {
            await new Promise((r) => setTimeout(r, 100 * attempt));
            continue;
          }
          listenerFailures.inc({ listener: listener.name });
          this.logger.error({ err: e, listener: listener.name }, 'after-ingest listener failed');
          break;
        }
      }
    }
  }

  private validate(e: IncomingEvent, now: number): UsageRow | string {
    if (e.envelope.type !== REQUEST_COMPLETED) return `unexpected event type ${e.envelope.type.slice(0, 64)}`;
    const problems = requestCompletedProblems(e.envelope.data);
    if (problems.length) return `invalid RequestCompleted: ${problems.join(', ')}`;
    const data = e.envelope.data as RequestCompletedData;
    const tooLarge = unstorable(data);
    if (tooLarge.length)
      return `invalid RequestCompleted: ${tooLarge.join(', ')} larger than the ledger stores`;
    const timeMs = Date.parse(data.time);
    if (Number.isNaN(timeMs)) return 'invalid RequestCompleted: time';
    const admitted = admission(timeMs, now, this.options.retentionDays);
    if (admitted === 'too_old')
      return 'older than the raw-row retention window (USAGE_RETENTION_DAYS): its dedupe row may be gone';
    if (admitted === 'future') return 'time is more than a day in the future';
    return {
      requestId: data.requestId,
      keyId: data.keyId ?? null,
      route: data.route ?? null,
      provider: data.provider ?? null,
      upstreamModel: data.upstreamModel ?? null,
      endpoint: data.endpoint,
      status: data.status,
      outcome: data.outcome,
      errorCode: data.errorCode ?? null,
      promptTokens: data.promptTokens,
      completionTokens: data.completionTokens,
      streamed: data.streamed,
      latencyMs: data.latencyMs,
      clientIp: data.clientIp ?? null,
      clientNetwork: data.clientIp ? networkOf(data.clientIp) : null,
      time: data.time,
      timeMs,
      costUsd: this.pricing.cost(data.upstreamModel, data.promptTokens, data.completionTokens),
    };
  }

  private async deadLetter(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    ingested.inc({ result: 'dead_letter' }, letters.length);
    const first = letters[0];
    this.logger.warn(
      { ...first.meta, reason: first.reason, count: letters.length },
      'usage events sent to the dead-letter table',
    );
    // Unique on (topic, partition, offset): a redelivered bad message is recorded once.
    await this.db.query(
      `INSERT INTO dead_letters (topic, partition, "offset", reason, payload)
       SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[])
       ON CONFLICT (topic, partition, "offset") DO NOTHING`,
      [
        letters.map((l) => l.meta.topic),
        letters.map((l) => l.meta.partition),
        letters.map((l) => l.meta.offset),
        letters.map((l) => l.reason),
        letters.map((l) => l.raw?.slice(0, 65536) ?? null),
      ],
    );
  }
}

interface DeadLetter {
  meta: { topic: string; partition: number; offset: string };
  reason: string;
  raw: string | null;
}
