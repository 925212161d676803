import { propagation, TraceFlags, trace } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { makeEnvelope, Topics } from '@keygate/contracts';
import { Partitioners } from 'kafkajs';
import { prepareMessages, rememberingPartitioner, settleSpans } from './event-producer';

// A message's producer span exists when the trace that caused the event is sampled, and carries the trace on;
// in a trace that is not sampled, the event's captured traceparent travels as it is and no span is made.
describe('prepareMessages: producer spans follow the cause’s sampling', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  });
  afterAll(() => {
    trace.disable();
    propagation.disable();
    return provider.shutdown();
  });

  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const event = (flags: TraceFlags) => ({
    key: 'key-1',
    envelope: makeEnvelope({ type: 'RequestCompleted', source: 'gateway', subject: 'key-1', data: { n: 1 } }),
    headers: { traceparent: `00-${traceId}-b7ad6b7169203331-0${flags}` },
  });

  it('passes an unsampled trace’s traceparent through, with no span', () => {
    const e = event(TraceFlags.NONE);
    const { topicMessages, spans } = prepareMessages([{ topic: Topics.usageRequests, events: [e] }]);
    expect(spans).toHaveLength(0);
    const [message] = topicMessages[0].messages;
    expect(message.headers).toEqual({
      traceparent: e.headers.traceparent,
      'content-type': 'application/json',
      'event-type': 'RequestCompleted',
    });
    expect(JSON.parse(String(message.value))).toEqual(e.envelope);
  });

  it('makes a producer span in a sampled trace, and the message carries it', () => {
    const e = event(TraceFlags.SAMPLED);
    const { topicMessages, spans } = prepareMessages([{ topic: Topics.usageRequests, events: [e] }]);
    settleSpans(spans);
    const [span] = exporter.getFinishedSpans();
    expect(span.name).toBe(`send ${Topics.usageRequests}`);
    expect(span.spanContext().traceId).toBe(traceId);
    expect(topicMessages[0].messages[0].headers?.traceparent).toBe(
      `00-${traceId}-${span.spanContext().spanId}-01`,
    );
  });
});

// The gateway's producer remembers each key's partition; it must be the one kafkajs's default picks, always.
describe('rememberingPartitioner', () => {
  const metadata = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      partitionErrorCode: 0,
      partitionId: i,
      leader: 1,
      replicas: [1],
      isr: [1],
    }));

  it('chooses what the default partitioner chooses, across keys, topics and partition counts', () => {
    const reference = Partitioners.DefaultPartitioner();
    const remembering = rememberingPartitioner();
    for (const partitions of [1, 3, 12, 3]) {
      for (let i = 0; i < 300; i++) {
        for (const topic of ['usage.requests', 'keys.events']) {
          const args = {
            topic,
            partitionMetadata: metadata(partitions),
            message: { key: `key-${i % 120}`, value: 'x' },
          };
          expect(remembering(args)).toBe(reference(args));
        }
      }
    }
  });

  it('leaves an explicit partition and a Buffer key to the default', () => {
    const remembering = rememberingPartitioner();
    const partitionMetadata = metadata(6);
    expect(
      remembering({ topic: 't', partitionMetadata, message: { key: 'k', value: 'x', partition: 4 } }),
    ).toBe(4);
    const buffer = { topic: 't', partitionMetadata, message: { key: Buffer.from('k'), value: 'x' } };
    expect(remembering(buffer)).toBe(Partitioners.DefaultPartitioner()(buffer));
  });
});
