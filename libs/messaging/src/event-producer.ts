import { context, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import {
  Partitioners,
  type ICustomPartitioner,
  type Kafka,
  type Message,
  type Producer,
  type TopicMessages,
} from 'kafkajs';
import type { EventEnvelope, Topic } from '@keygate/contracts';
import { extractTraceContext, injectTraceHeaders } from './trace-context';

export interface OutgoingEvent {
  key: string;
  envelope: EventEnvelope;
  // Trace headers captured where the event was caused (the request, the outbox append); the active context
  // at send time when absent.
  headers?: Record<string, string>;
}

const tracer = trace.getTracer('keygate-messaging');

// What the services need of a producer: EventProducer, or ThreadedEventProducer (kafkajs in a worker thread).
export interface EventSender {
  readonly isConnected: boolean;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(topic: Topic, events: OutgoingEvent[]): Promise<void>;
}

// The part of a send that belongs to the caller's thread: one producer span per message (in the trace that caused
// the event), the message with that span's traceparent, the JSON. The spans end when the send is settled.
export const prepareMessages = (
  batches: { topic: Topic; events: OutgoingEvent[] }[],
): { topicMessages: TopicMessages[]; spans: Span[] } => {
  const spans: Span[] = [];
  const topicMessages = batches
    .filter((b) => b.events.length)
    .map((b) => ({ topic: b.topic, messages: b.events.map((e) => toMessage(b.topic, e, spans)) }));
  return { topicMessages, spans };
};

export const settleSpans = (spans: Span[], error?: unknown): void => {
  for (const span of spans) {
    if (error) span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
    span.end();
  }
};

// Partition keys remembered at once; past it the memory starts over (a key is hashed again on its next message).
const REMEMBERED_KEYS = 10_000;

// kafkajs 2's default partitioner (murmur2 of the message key, as Java clients do), with each string key's choice
// remembered for its topic's partition count: the default hashes the key (in 64-bit software arithmetic) and
// filters the partition list for every message, and the gateway sends one message per request, keyed by API key.
export const rememberingPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const chosen = new Map<string, { partitions: number; partition: number }>();
  return (args) => {
    const { message, partitionMetadata } = args;
    if (typeof message.key !== 'string' || (message.partition !== undefined && message.partition !== null))
      return partitioner(args);
    const id = `${args.topic}\u0000${message.key}`;
    const known = chosen.get(id);
    if (known && known.partitions === partitionMetadata.length) return known.partition;
    const partition = partitioner(args);
    if (chosen.size >= REMEMBERED_KEYS) chosen.clear();
    chosen.set(id, { partitions: partitionMetadata.length, partition });
    return partition;
  };
};

// The one producer wrapper: idempotent (no duplicates from its own retries), JSON envelopes, trace headers.
export class EventProducer implements EventSender {
  private producer: Producer;
  private connected = false;

  constructor(private readonly kafka: Kafka) {
    this.producer = this.create();
  }

  private create(): Producer {
    const producer = this.kafka.producer({
      // kafkajs 2's default (murmur2 on the message key, as Java clients do), named so it warns no more.
      createPartitioner: rememberingPartitioner,
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    producer.on(producer.events.DISCONNECT, () => {
      if (this.producer === producer) this.connected = false;
    });
    return producer;
  }

  // kafkajs rolls an idempotent producer's sequence numbers back when a produce request fails, even when the broker
  // had written it (its answer lost in a broker stop or a leader change). The next batch then goes out under the
  // sequence numbers of the one that was written, and the broker, which deduplicates by producer id and sequence
  // alone, answers it as a duplicate — success — and drops it: events acknowledged and never written (seen in the
  // broker-loss fault test: 14 of 1,621 usage events). Or every later send fails with OUT_OF_ORDER_SEQUENCE_NUMBER.
  // So after any failed send the producer is replaced: a new producer id, fresh sequences. What the broker had
  // already written may be sent again; consumers dedupe (event id, stream position, request id).
  private async replace(): Promise<void> {
    const old = this.producer;
    this.producer = this.create();
    this.connected = false;
    await old.disconnect().catch(() => undefined);
  }

  get isConnected(): boolean {
    return this.connected;
  }

  async connect(): Promise<void> {
    await this.producer.connect();
    this.connected = true;
  }

  async disconnect(): Promise<void> {
    await this.producer.disconnect();
    this.connected = false;
  }

  async send(topic: Topic, events: OutgoingEvent[]): Promise<void> {
    await this.sendBatch([{ topic, events }]);
  }

  async sendBatch(batches: { topic: Topic; events: OutgoingEvent[] }[]): Promise<void> {
    const { topicMessages, spans } = prepareMessages(batches);
    try {
      await this.sendPrepared(topicMessages);
      settleSpans(spans);
    } catch (e) {
      settleSpans(spans, e);
      throw e;
    }
  }

  // Messages made by prepareMessages (here, or in the thread that owns the spans).
  async sendPrepared(topicMessages: TopicMessages[]): Promise<void> {
    if (topicMessages.length === 0) return;
    try {
      if (!this.connected) await this.connect();
      await this.producer.sendBatch({ acks: -1, topicMessages });
    } catch (e) {
      await this.replace();
      throw e;
    }
  }
}

// W3C trace context: the trace-flags field (the last two hex digits) has bit 0 set when the trace is sampled.
const unsampled = (headers: Record<string, string> | undefined): boolean => {
  const tp = headers?.traceparent;
  return typeof tp === 'string' && tp.length === 55 && (Number.parseInt(tp.slice(53), 16) & 1) === 0;
};

const toMessage = (topic: Topic, e: OutgoingEvent, spans: Span[]): Message => ({
  key: e.key,
  value: JSON.stringify(e.envelope),
  headers: {
    // Without an SDK nothing is injected and the captured headers travel unchanged; so do they in a trace that is
    // not sampled, where the producer span would not be recorded (parent-based sampling).
    ...e.headers,
    ...(unsampled(e.headers) ? {} : producerSpan(topic, e, spans)),
    'content-type': 'application/json',
    'event-type': e.envelope.type,
  },
});

// One producer span per message, a child of the context that caused the event, so the trace runs from the
// request through Kafka to the consumer even though the send itself happens later, in a batch, on a timer.
// The message carries that span's traceparent (the headers returned).
const producerSpan = (topic: Topic, e: OutgoingEvent, spans: Span[]): Record<string, string> => {
  const parent = e.headers ? extractTraceContext(e.headers) : context.active();
  const span = tracer.startSpan(
    `send ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.type': 'send',
        'messaging.destination.name': topic,
        'messaging.kafka.message.key': e.key,
        'messaging.message.id': e.envelope.id,
        'keygate.event.type': e.envelope.type,
      },
    },
    parent,
  );
  spans.push(span);
  return injectTraceHeaders(trace.setSpan(parent, span));
};
