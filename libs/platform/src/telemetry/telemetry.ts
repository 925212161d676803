import { OTLPMetricExporter as OtlpGrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as OtlpJsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as OtlpProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as OtlpGrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { RuntimeNodeInstrumentation } from '@opentelemetry/instrumentation-runtime-node';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import {
  ConsoleMetricExporter,
  PeriodicExportingMetricReader,
  type IMetricReader,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace';
import { flushMetrics, initMetrics, registerProcessMetrics, shutdownMetrics } from '../metrics/meter';
import { HeadSampler, setHeadSampling } from './head-sampling';
import { telemetryResource } from './resource';
import { SpanRedactionProcessor } from './span-redaction';

// Started before Nest (the first import of each main.ts) so auto-instrumentation can patch the modules Nest,
// pg, ioredis and undici load afterwards. Configured only by the standard OTEL_* variables:
//   traces  — on when OTEL_TRACES_EXPORTER names an exporter (otlp, zipkin, console), or when it is unset and an
//             OTLP endpoint is; off with none set, OTEL_TRACES_EXPORTER=none or OTEL_SDK_DISABLED=true.
//             OTLP protocol from OTEL_EXPORTER_OTLP[_TRACES]_PROTOCOL: http/protobuf (default), http/json, grpc.
//             Zipkin (JSON v2) at OTEL_EXPORTER_ZIPKIN_ENDPOINT (default http://localhost:9411/api/v2/spans).
//             Sampling: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG as the spec defines them; unset, keygate
//             samples parent-based at a ratio of 0.1 (a client's sampled traceparent is always followed, one root
//             in ten is traced otherwise). OTEL_TRACES_SAMPLER=parentbased_always_on traces every request.
//   metrics — always collected and served at GET /metrics; also pushed when OTEL_METRICS_EXPORTER names otlp or
//             console (or is unset and an OTLP endpoint is).
//   logs    — JSON lines on stdout (logging.module.ts), never through OTLP.

type Env = Record<string, string | undefined>;

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);

const disabled = (env: Env): boolean => env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true';

export const tracingEnabled = (env: Env): boolean => {
  if (disabled(env)) return false;
  const exporters = list(env.OTEL_TRACES_EXPORTER);
  if (exporters.length > 0) return exporters.some((e) => e !== 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
};

// Which push exporters metrics get besides GET /metrics ('prometheus' is that endpoint, always on).
export const metricExporters = (env: Env): ('otlp' | 'console')[] => {
  if (disabled(env)) return [];
  const named = list(env.OTEL_METRICS_EXPORTER);
  if (named.length === 0)
    return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT ? ['otlp'] : [];
  return [...new Set(named)].filter((e): e is 'otlp' | 'console' => e === 'otlp' || e === 'console');
};

const otlpMetricExporter = (env: Env): PushMetricExporter => {
  const protocol = (env.OTEL_EXPORTER_OTLP_METRICS_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? '').trim();
  // The exporters are built against their own copy of sdk-metrics (same major); only the nominal types differ.
  const exporter =
    protocol === 'http/json'
      ? new OtlpJsonMetricExporter()
      : protocol === 'grpc'
        ? new OtlpGrpcMetricExporter()
        : new OtlpProtoMetricExporter();
  return exporter as unknown as PushMetricExporter;
};

const positive = (v: string | undefined, fallback: number): number => {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? n : fallback;
};

const pushReaders = (env: Env): IMetricReader[] =>
  metricExporters(env).map((kind) => {
    const interval = positive(env.OTEL_METRIC_EXPORT_INTERVAL, 60_000);
    return new PeriodicExportingMetricReader({
      exporter: kind === 'otlp' ? otlpMetricExporter(env) : new ConsoleMetricExporter(),
      exportIntervalMillis: interval,
      exportTimeoutMillis: Math.min(positive(env.OTEL_METRIC_EXPORT_TIMEOUT, 30_000), interval),
    });
  });

// sdk-trace 3's BatchSpanProcessor no longer reads OTEL_BSP_* itself (only NodeSDK's env-driven setup does, which
// keygate replaces); the spec's defaults otherwise.
const batchOptions = (env: Env) => ({
  maxQueueSize: positive(env.OTEL_BSP_MAX_QUEUE_SIZE, 2048),
  maxExportBatchSize: positive(env.OTEL_BSP_MAX_EXPORT_BATCH_SIZE, 512),
  scheduledDelayMillis: positive(env.OTEL_BSP_SCHEDULE_DELAY, 5000),
  exportTimeoutMillis: positive(env.OTEL_BSP_EXPORT_TIMEOUT, 30_000),
});

const otlpTraceExporter = (env: Env): SpanExporter => {
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? '').trim();
  const exporter =
    protocol === 'http/json'
      ? new OtlpJsonTraceExporter()
      : protocol === 'grpc'
        ? new OtlpGrpcTraceExporter()
        : new OtlpProtoTraceExporter();
  return exporter as unknown as SpanExporter;
};

// The exporters named by OTEL_TRACES_EXPORTER (otlp when it is unset), each behind the standard processor:
// batched for OTLP and Zipkin (OTEL_BSP_* tune it; the batch processor suppresses tracing while it exports, so the
// exporter's own HTTP call is no span), immediate for the console. The OTLP exporters read their endpoint,
// headers, timeout and compression from the OTEL_EXPORTER_OTLP_* variables, Zipkin's its OTEL_EXPORTER_ZIPKIN_*.
export const traceProcessors = (env: Env): SpanProcessor[] => {
  const named = list(env.OTEL_TRACES_EXPORTER).filter((e) => e !== 'none');
  const processors: SpanProcessor[] = [];
  const batched = (exporter: SpanExporter) => new BatchSpanProcessor({ exporter, ...batchOptions(env) });
  for (const name of new Set(named.length ? named : ['otlp'])) {
    if (name === 'console') processors.push(new SimpleSpanProcessor({ exporter: new ConsoleSpanExporter() }));
    else if (name === 'otlp') processors.push(batched(otlpTraceExporter(env)));
    else if (name === 'zipkin') processors.push(batched(new ZipkinExporter() as unknown as SpanExporter));
    else
      process.stderr.write(
        `telemetry: OTEL_TRACES_EXPORTER=${name} is not supported (otlp, zipkin, console, none)\n`,
      );
  }
  return processors;
};

// The shipped default: 10% of the traces a request starts, every trace a caller started and sampled. Tracing a
// request costs the gateway about as much CPU as serving it (bench/README.md); one in ten keeps latency
// breakdowns and error exemplars at a tenth of that price.
export const DEFAULT_SAMPLE_RATIO = 0.1;

// The ratio of the traces a request starts that keygate's default samples; null when OTEL_TRACES_SAMPLER names a
// sampler (the SDK reads it itself: every standard sampler name).
export const sampleRatio = (env: Env): number | null => {
  if (env.OTEL_TRACES_SAMPLER?.trim()) return null;
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG);
  return env.OTEL_TRACES_SAMPLER_ARG?.trim() && Number.isFinite(arg) && arg >= 0 && arg <= 1
    ? arg
    : DEFAULT_SAMPLE_RATIO;
};

// keygate's default sampler (head-sampling.ts), or null: the SDK's, from OTEL_TRACES_SAMPLER.
export const defaultSampler = (env: Env): Sampler | null => {
  const ratio = sampleRatio(env);
  return ratio === null ? null : new ParentBasedSampler({ root: new HeadSampler(ratio) });
};

// Probes and scrapes are not traffic: no spans for them.
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;

// Exactly the libraries a request crosses, and nothing else: every instrumentation costs time on every call it
// patches, and a span nobody reads is pure overhead on the gateway's hot path (bench/README.md). Nest's own
// handler spans are left out (observeHttpRequests names the HTTP server span after its route), as are fs, dns
// and net. libs/messaging traces Kafka itself: the contrib kafkajs instrumentation parents its send span on the
// context active at send time (a timer, for our batched producers) and overwrites the message's traceparent,
// which would cut every trace at Kafka. logging.module.ts puts trace_id/span_id on every log line.
// With `ownSpans` (the gateway) the service makes its spans itself: the HTTP server span in observeHttpRequests'
// Fastify hook, and a span per step of a request (auth.verify, ratelimit.check, proxy.upstream) that times its
// Redis and upstream calls. instrumentation-http wraps every request and response emitter and records its own
// duration histograms; instrumentation-undici and -ioredis add a span (and its attribute building) per call the
// step's span already covers, and would hand the provider our traceparent: a large share of a proxied request.
const instrumentations = (opts: TelemetryOptions) =>
  opts.ownSpans
    ? []
    : [
        new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => QUIET_PATHS.test(req.url ?? '') }),
        // Provider probes (key-service).
        new UndiciInstrumentation(),
        // Only inside a request, relay batch or consumer span: the outbox poll and the health pings would
        // otherwise start a trace of their own every few hundred milliseconds.
        new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
        new IORedisInstrumentation({ requireParentSpan: true }),
        new GrpcInstrumentation(),
      ];

export interface TelemetryOptions {
  // The service makes its own spans (the gateway): no library instrumentation is loaded.
  ownSpans?: boolean;
}

let sdk: NodeSDK | undefined;
let started = false;
let tracing = false;

/** Whether this process exports traces (startTelemetry ran with tracing on). */
export const tracingActive = (): boolean => tracing;

export const startTelemetry = (
  serviceName: string,
  env: Env = process.env,
  opts: TelemetryOptions = {},
): void => {
  if (started) return;
  started = true;
  const resource = telemetryResource(serviceName, env);
  // Metrics first: the SDK's instrumentations take the global MeterProvider when they are registered.
  const meterProvider = initMetrics(resource, pushReaders(env));
  registerProcessMetrics();
  // Event loop, heap and GC metrics; an instrumentation enables itself when it is constructed.
  new RuntimeNodeInstrumentation().setMeterProvider(meterProvider);
  if (!tracingEnabled(env)) return;
  tracing = true;
  const sampler = defaultSampler(env);
  setHeadSampling(sampleRatio(env));
  sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    ...(sampler ? { sampler } : {}),
    instrumentations: instrumentations(opts),
    // Redaction first: it rewrites attributes while the span ends, before any exporter reads them.
    spanProcessors: [new SpanRedactionProcessor(), ...traceProcessors(env)],
    // Our MeterProvider (above) is the global one; an empty list keeps the SDK from building a second.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
};

export const stopTelemetry = async (): Promise<void> => {
  const s = sdk;
  sdk = undefined;
  await Promise.all([s?.shutdown().catch(() => undefined), flushMetrics()]);
  await shutdownMetrics();
};
