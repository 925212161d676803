import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { context } from '@opentelemetry/api';
import {
  makeEnvelope,
  REQUEST_COMPLETED,
  Topics,
  USAGE_EVENTS_SCHEMA_VERSION,
  type RequestCompletedData,
  type Topic,
} from '@keygate/contracts';
import { EventJournal, injectTraceHeaders, type EventSender, type OutgoingEvent } from '@keygate/messaging';
import { counter, gauge, leftOutTraceparent } from '@keygate/platform';

const depth = gauge(
  'keygate_usage_buffer_depth',
  'RequestCompleted events waiting in memory to be sent to Kafka',
);
const journalDepth = gauge(
  'keygate_usage_journal_depth',
  'RequestCompleted events in the local journal (spilled while Kafka was slow), waiting to be replayed',
);
const journalBytes = gauge('keygate_usage_journal_bytes', 'Bytes the usage journal occupies on disk');
const journaled = counter(
  'keygate_usage_events_journaled_total',
  'RequestCompleted events spilled to the local journal because the in-memory buffer was full',
);
const replayed = counter(
  'keygate_usage_events_replayed_total',
  'Journaled RequestCompleted events sent to Kafka',
);
const dropped = counter(
  'keygate_usage_events_dropped_total',
  'RequestCompleted events lost: a journal line that could not be read back',
);
const refused = counter(
  'keygate_usage_backlog_refusals_total',
  'Requests refused with 503 usage_backlog_full: no room left to record their usage',
);
const sent = counter('keygate_usage_events_sent_total', 'RequestCompleted events sent to Kafka');

// Per send: keeps each partition's record batch far below the broker's 1 MB message.max.bytes, whatever the backlog.
const SEND_MAX = 1000;
// Room held in the journal for each admitted request whose event is not emitted yet (an event line is ~1 KB).
const RESERVED_BYTES = 4096;
// At shutdown: how long the last send may take before what is left goes to the journal.
const SHUTDOWN_SEND_MS = 3000;

export interface UsageEmitterOptions {
  maxBuffered: number;
  flushMs: number;
  // This process's own directory (a lock file enforces it) and the journal's bound on disk.
  journalDir: string;
  journalMaxBytes: number;
  // usage.requests; tests name a topic of their own.
  topic?: Topic;
}

// kafkajs has no linger: requests append here and a timer sends them in batches (or sooner, once a whole send's
// worth is waiting and the last send went through). A produce request costs far more than the events in it, on
// both sides (bench/README.md: kafkajs ≈ 1 ms of CPU per send, the broker a few), hence few and large ones.
// The memory buffer is bounded; when it is full (Kafka slow or away) events spill to a local journal on disk,
// replayed once Kafka takes writes again. Only when the journal is full too does the gateway refuse new requests
// (admit), so no event of a request it served is dropped. A clean shutdown journals what it could not send.
@Injectable()
export class UsageEmitter implements OnApplicationShutdown {
  private readonly logger = new Logger('usage-events');
  private buffer: OutgoingEvent[] = [];
  // Admitted requests whose event is not emitted yet: they hold room.
  private pending = 0;
  private journalBroken = false;
  // The last send failed: until one goes through, only the timer tries again.
  private failing = false;
  private inFlight?: OutgoingEvent[];
  private flushing?: Promise<void>;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly journal: EventJournal;
  private readonly topic: Topic;

  constructor(
    private readonly producer: EventSender,
    private readonly options: UsageEmitterOptions,
  ) {
    this.topic = options.topic ?? Topics.usageRequests;
    this.journal = new EventJournal({
      dir: options.journalDir,
      maxBytes: options.journalMaxBytes,
      onUnreadable: (segment, line) => {
        dropped.inc();
        this.logger.error(`usage journal ${segment} line ${line} is unreadable: that usage event is lost`);
      },
    });
    this.timer = setInterval(() => void this.flush(), options.flushMs);
    this.timer.unref();
    this.gauges();
    if (this.journal.depth > 0)
      this.logger.warn(`${this.journal.depth} usage events left in the journal; replaying them`);
  }

  // Whether a new request may be served: there is room to record its usage, in memory or in the journal. A true
  // answer holds that room until the request's emit.
  admit(): boolean {
    const memory = this.options.maxBuffered - this.buffer.length;
    const disk = this.journalBroken ? 0 : Math.floor(this.journal.freeBytes / RESERVED_BYTES);
    if (this.pending >= memory + disk) {
      refused.inc();
      return false;
    }
    this.pending++;
    return true;
  }

  emit(data: RequestCompletedData): void {
    if (this.pending > 0) this.pending--;
    const headers = injectTraceHeaders(context.active());
    if (headers.traceparent === undefined) {
      // A request head sampling left out: its event is in a trace not sampled, which its consumers leave out too.
      const leftOut = leftOutTraceparent();
      if (leftOut) headers.traceparent = leftOut;
    }
    const event: OutgoingEvent = {
      key: data.keyId ?? 'anonymous',
      envelope: makeEnvelope({
        type: REQUEST_COMPLETED,
        schemaVersion: USAGE_EVENTS_SCHEMA_VERSION,
        source: 'gateway',
        subject: data.keyId ?? 'anonymous',
        correlationId: data.requestId,
        data,
      }),
      headers,
    };
    if (this.buffer.length < this.options.maxBuffered) this.buffer.push(event);
    else this.spill([event]);
    depth.set(this.buffer.length);
    if (this.buffer.length >= SEND_MAX && !this.failing) void this.flush();
  }

  // Sends the buffer, then the journal, a chunk at a time, until both are empty or a send fails (the next tick
  // tries again).
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.closed || (this.buffer.length === 0 && this.journal.depth === 0)) return Promise.resolve();
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
      this.gauges();
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (!this.closed) {
      if (this.buffer.length > 0) {
        const batch = this.buffer.splice(0, SEND_MAX);
        this.inFlight = batch;
        try {
          await this.producer.send(this.topic, batch);
          this.failing = false;
          sent.inc(batch.length);
        } catch (e) {
          this.failing = true;
          // Back in front; what no longer fits in memory goes to the journal. (Not after shutdown: it journaled them.)
          if (this.inFlight === batch) {
            this.buffer.unshift(...batch);
            this.spill(this.buffer.splice(this.options.maxBuffered));
          }
          this.logger.warn(`usage events not sent yet (${batch.length}): ${(e as Error).message}`);
          return;
        } finally {
          this.inFlight = undefined;
          depth.set(this.buffer.length);
        }
        continue;
      }
      const chunk = this.journal.next(SEND_MAX);
      if (!chunk) return;
      try {
        if (chunk.events.length > 0) await this.producer.send(this.topic, chunk.events);
        this.failing = false;
      } catch (e) {
        this.failing = true;
        this.logger.warn(`journaled usage events not replayed yet: ${(e as Error).message}`);
        return;
      }
      chunk.commit();
      replayed.inc(chunk.events.length);
      sent.inc(chunk.events.length);
      this.gauges();
    }
  }

  private spill(events: OutgoingEvent[]): void {
    if (events.length === 0) return;
    if (!this.journalBroken) {
      try {
        this.journal.append(events);
        journaled.inc(events.length);
        this.gauges();
        return;
      } catch (e) {
        // The disk refused (full, read-only): keep them in memory past the bound rather than lose them, and refuse
        // new requests from now on.
        this.journalBroken = true;
        this.logger.error(`usage journal write failed, refusing new requests: ${(e as Error).message}`);
      }
    }
    this.buffer.push(...events);
  }

  private gauges(): void {
    journalDepth.set(this.journal.depth);
    journalBytes.set(this.journal.sizeBytes);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    // A last send or two, bounded in time; what is left goes to the journal.
    const deadline = Date.now() + SHUTDOWN_SEND_MS;
    for (let i = 0; i < 3 && this.buffer.length > 0 && Date.now() < deadline; i++) {
      await Promise.race([this.flush(), new Promise((r) => setTimeout(r, deadline - Date.now()).unref())]);
      if (this.flushing) break;
    }
    this.closed = true;
    // Unsent (or sent without an answer yet: the ledger dedupes a second copy) goes to the journal for the next start.
    const left = [...(this.inFlight ?? []), ...this.buffer];
    this.inFlight = undefined;
    this.buffer = [];
    this.spill(left);
    if (left.length > 0 && !this.journalBroken)
      this.logger.warn(`${left.length} usage events journaled at shutdown; sent at the next start`);
    this.journal.close();
    await this.producer.disconnect().catch(() => undefined);
  }
}
