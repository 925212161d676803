import { INVALID_SPAN_CONTEXT, trace, type Span, type Tracer } from '@opentelemetry/api';

// What a step gets when no span of it would be recorded: every call on it is a no-op.
const UNRECORDED: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * A step of a request in a span of its own, made only where it will be recorded. Under a request span that is not
 * recording (not sampled, or tracing off) a child span would be dropped all the same (parent-based sampling), so
 * the step runs with a no-op span and no context is entered: what unsampled requests cost stays what tracing off
 * costs. The step's span is the active one inside `fn` only when it is recorded.
 */
export const stepSpan = <T>(tracer: Tracer, name: string, fn: (span: Span) => T): T =>
  trace.getActiveSpan()?.isRecording() ? tracer.startActiveSpan(name, fn) : fn(UNRECORDED);
