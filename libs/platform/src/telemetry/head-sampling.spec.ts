import { ROOT_CONTEXT, SamplingDecision, trace } from '@opentelemetry/api';
import {
  InMemorySpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { HeadSampler, headSample, leftOutTraceparent, setHeadSampling } from './head-sampling';

// A request that starts its own trace is traced at the ratio, decided before any span exists; the SDK's sampler
// then traces exactly the spans started in the context headSample() returned.
describe('head sampling', () => {
  afterEach(() => setHeadSampling(null));

  it('decides at the ratio, and not at all (always a context) when the SDK samples from OTEL_TRACES_SAMPLER', () => {
    setHeadSampling(0.25);
    const n = 20_000;
    let traced = 0;
    for (let i = 0; i < n; i++) if (headSample() !== null) traced++;
    expect(traced / n).toBeGreaterThan(0.23);
    expect(traced / n).toBeLessThan(0.27);
    setHeadSampling(0);
    expect(headSample()).toBeNull();
    setHeadSampling(null);
    expect(headSample()).toBe(ROOT_CONTEXT);
  });

  it('traces every span started in a chosen context, and samples other root spans by trace id', () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      sampler: new ParentBasedSampler({ root: new HeadSampler(0) }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const tracer = provider.getTracer('t');
    setHeadSampling(1);
    const chosen = tracer.startSpan('chosen', {}, headSample()!);
    expect(chosen.isRecording()).toBe(true);
    // A child follows its parent (parent-based), whatever the ratio.
    const child = tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, chosen));
    expect(child.isRecording()).toBe(true);
    // Another root span (a consumer's, a timer's): the ratio, 0 here.
    expect(tracer.startSpan('other', {}, ROOT_CONTEXT).isRecording()).toBe(false);
    expect(new HeadSampler(1).shouldSample(ROOT_CONTEXT, '0af7651916cd43dd8448eb211c80319c').decision).toBe(
      SamplingDecision.RECORD_AND_SAMPLED,
    );
  });

  it('gives what a left-out request causes a fresh traceparent of a trace not sampled, only with head sampling', () => {
    setHeadSampling(0.1);
    const a = leftOutTraceparent();
    expect(a).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    expect(leftOutTraceparent()).not.toBe(a);
    setHeadSampling(null);
    expect(leftOutTraceparent()).toBeUndefined();
  });
});
