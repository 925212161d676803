import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { context } from '@opentelemetry/api';
import {
  makeEnvelope,
  REQUEST_COMPLETED,
  Topics,
  USAGE_EVENTS_SCHEMA_VERSION,
  type RequestCompletedData,
} from '@keygate/contracts';
import { injectTraceHeaders, type EventSender, type OutgoingEvent } from '@keygate/messaging';
import { counter, gauge } from '@keygate/platform';

const depth = gauge('keygate_usage_buffer_depth', 'RequestCompleted events waiting to be sent to Kafka');
const dropped = counter(
  'keygate_usage_events_dropped_total',
  'RequestCompleted events dropped because the buffer was full',
);
const sent = counter('keygate_usage_events_sent_total', 'RequestCompleted events sent to Kafka');

// kafkajs has no linger: requests append here and a timer sends them in batches. The buffer is bounded
// (a slow Kafka must not eat the gateway's memory) and flushed on shutdown, so a clean restart loses none.
@Injectable()
export class UsageEmitter implements OnApplicationShutdown {
  private readonly logger = new Logger('usage-events');
  private buffer: OutgoingEvent[] = [];
  private flushing?: Promise<void>;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly producer: EventSender,
    private readonly maxBuffered: number,
    flushMs: number,
  ) {
    this.timer = setInterval(() => void this.flush(), flushMs);
    this.timer.unref();
  }

  emit(data: RequestCompletedData): void {
    if (this.buffer.length >= this.maxBuffered) {
      dropped.inc();
      return;
    }
    this.buffer.push({
      key: data.keyId ?? 'anonymous',
      envelope: makeEnvelope({
        type: REQUEST_COMPLETED,
        schemaVersion: USAGE_EVENTS_SCHEMA_VERSION,
        source: 'gateway',
        subject: data.keyId ?? 'anonymous',
        correlationId: data.requestId,
        data,
      }),
      headers: injectTraceHeaders(context.active()),
    });
    depth.set(this.buffer.length);
  }

  async flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.producer
      .send(Topics.usageRequests, batch)
      .then(() => {
        sent.inc(batch.length);
      })
      .catch((e: unknown) => {
        // Put them back in front, within the bound; the next tick retries.
        this.buffer = [...batch, ...this.buffer].slice(0, this.maxBuffered);
        this.logger.warn(`usage events not sent yet (${batch.length}): ${(e as Error).message}`);
      })
      .finally(() => {
        this.flushing = undefined;
        depth.set(this.buffer.length);
      });
    return this.flushing;
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    for (let i = 0; i < 5 && (this.buffer.length > 0 || this.flushing); i++) await this.flush();
    await this.producer.disconnect().catch(() => undefined);
  }
}
