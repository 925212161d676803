import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Tracer,
} from '@opentelemetry/api';
import type { IHeaders } from 'kafkajs';

// W3C trace context in Kafka headers: written on produce, continued on consume.
export const injectTraceHeaders = (ctx: Context = context.active()): Record<string, string> => {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier;
};

export const extractTraceContext = (headers: IHeaders | undefined): Context => {
  const carrier: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v !== undefined) carrier[k] = Array.isArray(v) ? String(v[0]) : String(v);
  }
  return propagation.extract(context.active(), carrier);
};

// One span per message, each a child of its own message's trace, all around one operation on the whole batch
// (a multi-row INSERT, say): every request's trace shows its ingestion, and the batch's own child spans (the
// SQL) hang under the first message's span. The spans end with the operation; an error marks all of them.
export const withMessageSpans = async <T>(
  tracer: Tracer,
  name: string,
  messages: { trace: Context }[],
  attributes: (index: number) => Attributes,
  fn: () => Promise<T>,
): Promise<T> => {
  const spans = messages.map((m, i) =>
    tracer.startSpan(name, { kind: SpanKind.CONSUMER, attributes: attributes(i) }, m.trace),
  );
  try {
    const first = spans[0];
    return await (first ? context.with(trace.setSpan(messages[0].trace, first), fn) : fn());
  } catch (e) {
    for (const span of spans) span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
    throw e;
  } finally {
    for (const span of spans) span.end();
  }
};
