import { context, trace, TraceFlags } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  StackContextManager,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { stepSpan } from './step-span';

// A step's span exists exactly when parent-based sampling would record it: under a sampled request span it is a
// child of it and the active span inside the step; under an unsampled one, or none, nothing is made or entered.
describe('stepSpan', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('test');
  const manager = new StackContextManager();

  beforeAll(() => context.setGlobalContextManager(manager.enable()));
  afterAll(() => {
    context.disable();
    return provider.shutdown();
  });
  beforeEach(() => exporter.reset());

  const unsampledParent = trace.wrapSpanContext({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.NONE,
    isRemote: true,
  });

  it('makes a child span, active inside the step, under a recording request span', () => {
    const request = tracer.startSpan('POST /v1/chat/completions');
    const seen = context.with(trace.setSpan(context.active(), request), () =>
      stepSpan(tracer, 'auth.verify', (span) => {
        span.setAttribute('keygate.auth.source', 'cache');
        const active = trace.getActiveSpan();
        span.end();
        return active === span;
      }),
    );
    request.end();
    expect(seen).toBe(true);
    const step = exporter.getFinishedSpans().find((s) => s.name === 'auth.verify');
    expect(step?.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(step?.attributes['keygate.auth.source']).toBe('cache');
  });

  it.each([
    ['an unsampled request span', () => trace.setSpan(context.active(), unsampledParent)],
    ['no request span', () => context.active()],
  ])('makes no span and enters no context under %s', (_, ctx) => {
    const parent = ctx();
    const inside = context.with(parent, () =>
      stepSpan(tracer, 'ratelimit.check', (span) => {
        span.setAttribute('keygate.ratelimit.allowed', true);
        span.end();
        return { recording: span.isRecording(), active: trace.getActiveSpan() };
      }),
    );
    expect(inside.recording).toBe(false);
    expect(inside.active).toBe(trace.getSpan(parent));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });
});
