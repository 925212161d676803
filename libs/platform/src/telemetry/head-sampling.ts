import {
  createContextKey,
  ROOT_CONTEXT,
  SamplingDecision,
  type Context,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/api';
import { RandomIdGenerator, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace';

// Whether a request that starts a trace of its own is traced, decided before any span exists. A request that is not
// traced then makes no span at all and enters no context: it costs what it costs with tracing off. What it causes
// (its usage event) says it is in a trace not sampled (leftOutTraceparent), so its consumers leave it out too. A
// span the SDK makes and drops (its sampler says no) still costs the request its ids, its attributes, the sampler,
// the SDK's span metrics and a context: about 7% of a gateway request's CPU (bench/README.md). Only with keygate's
// own sampler (telemetry.ts, defaultSampler), whose ratio is known here; with one chosen by OTEL_TRACES_SAMPLER,
// every request gets its span and the SDK decides, as before.

const DECIDED = createContextKey('keygate.head-sampled');
const TRACED: SamplingResult = { decision: SamplingDecision.RECORD_AND_SAMPLED };

// The root sampler of keygate's default (parent-based: a caller's sampled traceparent is always followed): a span
// started in the context headSample() returned is traced; any other root span (a consumer's, a timer's) is sampled
// at the same ratio by its trace id.
export class HeadSampler implements Sampler {
  private readonly byTraceId: TraceIdRatioBasedSampler;

  constructor(readonly ratio: number) {
    this.byTraceId = new TraceIdRatioBasedSampler(ratio);
  }

  shouldSample(context: Context, traceId: string): SamplingResult {
    return context.getValue(DECIDED) === true ? TRACED : this.byTraceId.shouldSample(context, traceId);
  }

  toString(): string {
    return `HeadSampler{${this.ratio}}`;
  }
}

const TRACE_THIS = ROOT_CONTEXT.setValue(DECIDED, true);
let ratio: number | null = null;

/** Called by startTelemetry: the ratio of keygate's default sampler, or null when OTEL_TRACES_SAMPLER chose one. */
export const setHeadSampling = (r: number | null): void => {
  ratio = r;
};

/**
 * For a request that carries no trace context: the context to start its server span in, or null when it is not
 * traced (then it gets no span). Always a context when the SDK's sampler decides (OTEL_TRACES_SAMPLER).
 */
export const headSample = (): Context | null =>
  ratio === null ? ROOT_CONTEXT : Math.random() < ratio ? TRACE_THIS : null;

const ids = new RandomIdGenerator();

/**
 * The traceparent of a trace not sampled, for what a request head sampling left out causes (its usage event): a
 * consumer's parent-based sampler then leaves that out too, as it did when such a request had a span that was not
 * recorded, rather than start a trace of its own. Undefined without head sampling (tracing off, or the SDK's sampler).
 */
export const leftOutTraceparent = (): string | undefined =>
  ratio === null ? undefined : `00-${ids.generateTraceId()}-${ids.generateSpanId()}-00`;
