import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import { defaultSampler, metricExporters, traceProcessors, tracingEnabled } from './telemetry';
import { packageVersion, resourceAttributesFromEnv, telemetryResource } from './resource';

// Only the standard OTEL_* variables decide what is exported; with none set nothing is, and nothing complains.
describe('telemetry configuration from OTEL_* variables', () => {
  it.each<[Record<string, string>, boolean]>([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }, true],
    [{ OTEL_TRACES_EXPORTER: 'console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp,console' }, true],
    [{ OTEL_TRACES_EXPORTER: 'zipkin' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, false],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }, false],
    [{ OTEL_SDK_DISABLED: 'false', OTEL_TRACES_EXPORTER: 'otlp' }, true],
  ])('tracing with %j: %s', (env, on) => {
    expect(tracingEnabled(env)).toBe(on);
  });

  it('exports to Zipkin, batched, beside OTLP when both are named', () => {
    const processors = traceProcessors({
      OTEL_TRACES_EXPORTER: 'zipkin,otlp',
      OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://127.0.0.1:9411/api/v2/spans',
    });
    expect(processors).toHaveLength(2);
    for (const p of processors) expect(p).toBeInstanceOf(BatchSpanProcessor);
    return Promise.all(processors.map((p) => p.shutdown()));
  });

  it.each<[Record<string, string>, string[]]>([
    [{}, []],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, ['otlp']],
    [{ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://collector:4318/v1/metrics' }, ['otlp']],
    [{ OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, []],
    [{ OTEL_METRICS_EXPORTER: 'prometheus' }, []],
    [{ OTEL_METRICS_EXPORTER: 'otlp,console,otlp' }, ['otlp', 'console']],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_METRICS_EXPORTER: 'otlp' }, []],
  ])('metrics pushed with %j: %j (GET /metrics always)', (env, exporters) => {
    expect(metricExporters(env)).toEqual(exporters);
  });

  it.each<[Record<string, string>, string | null]>([
    [{}, 'ParentBased{root=HeadSampler{0.1}'],
    [{ OTEL_TRACES_SAMPLER_ARG: '1' }, 'ParentBased{root=HeadSampler{1}'],
    [{ OTEL_TRACES_SAMPLER_ARG: 'lots' }, 'ParentBased{root=HeadSampler{0.1}'],
    [{ OTEL_TRACES_SAMPLER: 'parentbased_always_on' }, null],
  ])('sampler with %j: %s (null: the SDK reads OTEL_TRACES_SAMPLER)', (env, sampler) => {
    const s = defaultSampler(env);
    expect(s === null ? null : s.toString().slice(0, sampler?.length)).toBe(sampler);
  });

  describe('resource', () => {
    const saved = { ...process.env };
    afterEach(() => {
      process.env = { ...saved };
    });

    it('names the service, its version from package.json and the environment from NODE_ENV', () => {
      delete process.env.OTEL_RESOURCE_ATTRIBUTES;
      delete process.env.OTEL_SERVICE_NAME;
      const attrs = telemetryResource('gateway', { NODE_ENV: 'production' }).attributes;
      expect(attrs['service.name']).toBe('gateway');
      expect(attrs['service.version']).toBe(packageVersion());
      expect(packageVersion()).toMatch(/^\d+\.\d+\.\d+/);
      expect(attrs['deployment.environment']).toBe('production');
      expect(attrs['deployment.environment.name']).toBe('production');
    });

    it('lets OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override', () => {
      process.env.OTEL_SERVICE_NAME = 'gateway-eu';
      process.env.OTEL_RESOURCE_ATTRIBUTES = 'deployment.environment=staging,team=platform%20sre';
      const attrs = telemetryResource('gateway', {
        NODE_ENV: 'production',
        OTEL_RESOURCE_ATTRIBUTES: process.env.OTEL_RESOURCE_ATTRIBUTES,
      }).attributes;
      expect(attrs['service.name']).toBe('gateway-eu');
      expect(attrs['deployment.environment']).toBe('staging');
      expect(attrs['deployment.environment.name']).toBe('staging');
      expect(attrs.team).toBe('platform sre');
    });

    it('parses OTEL_RESOURCE_ATTRIBUTES leniently', () => {
      expect(
        resourceAttributesFromEnv({ OTEL_RESOURCE_ATTRIBUTES: 'a=1, b = x%2Cy ,junk,=v,c=%zz' }),
      ).toEqual({
        a: '1',
        b: 'x,y',
      });
    });
  });
});
