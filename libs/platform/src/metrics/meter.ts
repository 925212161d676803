import { metrics, type Attributes, type Meter } from '@opentelemetry/api';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, type IMetricReader } from '@opentelemetry/sdk-metrics';

// Metrics go through the OpenTelemetry SDK: one MeterProvider per process, read two ways — pulled as
// Prometheus text by GET /metrics (always), and pushed over OTLP when the OTEL_* variables ask for it
// (telemetry.ts). The helpers below keep prom-client's call shapes (`inc(labels, n)`, `set`, `observe`,
// `labels(...)`, `startTimer()`), so app code does not know which library is behind them.
// No Nest import here: telemetry.ts loads this before Nest, and unit tests use it without an app.

type LabelValue = string | number;
export type Labels = Partial<Record<string, LabelValue>>;

// Collected on demand: Prometheus scrapes it; cumulative temporality (the MetricReader default).
class PullReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

interface MeterState {
  provider: MeterProvider;
  pull: PullReader;
  meter: Meter;
}

let state: MeterState | undefined;

// Called once by startTelemetry, before any app module creates an instrument. Unit tests and tools that never
// start telemetry get a provider with a bare resource on first use.
export const initMetrics = (resource: Resource, pushReaders: IMetricReader[] = []): MeterProvider => {
  if (state) return state.provider;
  const pull = new PullReader();
  const provider = new MeterProvider({ resource, readers: [pull, ...pushReaders] });
  // Auto-instrumentations (runtime, http) record into the same provider, hence into /metrics.
  metrics.setGlobalMeterProvider(provider);
  state = { provider, pull, meter: provider.getMeter('keygate') };
  return provider;
};

const current = (): MeterState => {
  if (!state) initMetrics(resourceFromAttributes({ 'service.name': 'keygate' }));
  return state!;
};

export const meterProvider = (): MeterProvider => current().provider;

// exporter-prometheus carries its own copy of sdk-metrics (same major, other patch), so its types are
// nominally different from ours; the data shape is the same.
type SerializerInput = Parameters<PrometheusSerializer['serialize']>[0];
const serializer = new PrometheusSerializer(undefined, false, undefined, false, true);

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export const metricsText = async (): Promise<string> => {
  const { resourceMetrics } = await current().pull.collect();
  return serializer.serialize(resourceMetrics as unknown as SerializerInput);
};

export const flushMetrics = async (): Promise<void> => {
  await state?.provider.forceFlush().catch(() => undefined);
};

export const shutdownMetrics = async (): Promise<void> => {
  await state?.provider.shutdown().catch(() => undefined);
};

const fromPositional = (labelNames: string[], values: (LabelValue | Labels)[]): Labels => {
  if (values.length === 1 && typeof values[0] === 'object') return values[0];
  const labels: Labels = {};
  labelNames.forEach((n, i) => {
    const v = values[i];
    if (v !== undefined) labels[n] = v as LabelValue;
  });
  return labels;
};

export interface Counter {
  inc(value?: number): void;
  inc(labels: Labels, value?: number): void;
  labels(...values: LabelValue[]): { inc(value?: number): void };
  labels(labels: Labels): { inc(value?: number): void };
}

export interface Gauge {
  set(value: number): void;
  set(labels: Labels, value: number): void;
  inc(value?: number): void;
  inc(labels: Labels, value?: number): void;
  dec(value?: number): void;
  dec(labels: Labels, value?: number): void;
  labels(...values: LabelValue[]): {
    set(value: number): void;
    inc(value?: number): void;
    dec(value?: number): void;
  };
  labels(labels: Labels): { set(value: number): void; inc(value?: number): void; dec(value?: number): void };
  reset(): void;
}

export interface Histogram {
  observe(value: number): void;
  observe(labels: Labels, value: number): void;
  labels(...values: LabelValue[]): { observe(value: number): void };
  labels(labels: Labels): { observe(value: number): void };
  // Returns a function that observes the seconds elapsed since the call.
  startTimer(labels?: Labels): (more?: Labels) => number;
}

// Label values → one Map key. Label sets are few (route × status, provider...), so the Map stays small.
const keyer = (labelNames: string[]) => (labels: Labels | undefined) =>
  labels ? labelNames.map((n) => String(labels[n] ?? '')).join('\u0001') : '';

// A monotonic sum (Prometheus counter), kept per label set in a Map and reported when metrics are collected:
// an increment on the hot path is a Map update, not a trip through the SDK's attribute hashing (3x cheaper).
// An unlabelled one starts at 0, as prom-client's did, so dashboards show "0 rejections" rather than no data.
export const counter = (name: string, help: string, labelNames: string[] = []): Counter => {
  const values = new Map<string, { labels: Labels; value: number }>();
  const keyOf = keyer(labelNames);
  current()
    .meter.createObservableCounter(name, { description: help })
    .addCallback((result) => {
      for (const { labels, value } of values.values()) result.observe(value, labels as Attributes);
    });
  if (labelNames.length === 0) values.set('', { labels: {}, value: 0 });
  const add = (labels: Labels | undefined, by = 1) => {
    if (!(by >= 0)) return; // a counter never goes down (and NaN is not a count)
    const key = keyOf(labels);
    const entry = values.get(key);
    if (entry) entry.value += by;
    else values.set(key, { labels: { ...labels }, value: by });
  };
  return {
    inc: (a?: Labels | number, b?: number) => (typeof a === 'object' ? add(a, b) : add(undefined, a)),
    labels: (...v: (LabelValue | Labels)[]) => {
      const labels = fromPositional(labelNames, v);
      return { inc: (value?: number) => add(labels, value) };
    },
  } as Counter;
};

// A last value per label set, read when metrics are collected: set/inc/dec only touch a Map.
export const gauge = (name: string, help: string, labelNames: string[] = []): Gauge => {
  const values = new Map<string, { labels: Labels; value: number }>();
  const keyOf = keyer(labelNames);
  const update = (labels: Labels | undefined, f: (v: number) => number) => {
    const key = keyOf(labels);
    const entry = values.get(key);
    if (entry) entry.value = f(entry.value);
    else values.set(key, { labels: { ...labels }, value: f(0) });
  };
  current()
    .meter.createObservableGauge(name, { description: help })
    .addCallback((result) => {
      for (const { labels, value } of values.values()) result.observe(value, labels as Attributes);
    });
  if (labelNames.length === 0) values.set('', { labels: {}, value: 0 });
  const set = (labels: Labels | undefined, v: number) => update(labels, () => v);
  const inc = (labels: Labels | undefined, by = 1) => update(labels, (v) => v + by);
  return {
    set: (a: Labels | number, b?: number) => (typeof a === 'object' ? set(a, b ?? 0) : set(undefined, a)),
    inc: (a?: Labels | number, b?: number) => (typeof a === 'object' ? inc(a, b) : inc(undefined, a)),
    dec: (a?: Labels | number, b?: number) =>
      typeof a === 'object' ? inc(a, -(b ?? 1)) : inc(undefined, -(a ?? 1)),
    labels: (...v: (LabelValue | Labels)[]) => {
      const labels = fromPositional(labelNames, v);
      return {
        set: (value: number) => set(labels, value),
        inc: (value?: number) => inc(labels, value),
        dec: (value?: number) => inc(labels, -(value ?? 1)),
      };
    },
    reset: () => values.clear(),
  } as Gauge;
};

// prom-client's default buckets: our histograms are in seconds, OpenTelemetry's defaults are for milliseconds.
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const histogram = (
  name: string,
  help: string,
  labelNames: string[] = [],
  buckets?: number[],
): Histogram => {
  const instrument = current().meter.createHistogram(name, {
    description: help,
    advice: { explicitBucketBoundaries: buckets ?? DEFAULT_BUCKETS },
  });
  const observe = (labels: Labels | undefined, v: number) => instrument.record(v, labels as Attributes);
  return {
    observe: (a: Labels | number, b?: number) =>
      typeof a === 'object' ? observe(a, b ?? 0) : observe(undefined, a),
    // Bound once, frozen: the SDK hashes a frozen set once, not on every record (patches/@opentelemetry+sdk-metrics).
    labels: (...v: (LabelValue | Labels)[]) => {
      const labels = Object.freeze({ ...fromPositional(labelNames, v) });
      return { observe: (value: number) => observe(labels, value) };
    },
    startTimer: (labels?: Labels) => {
      const t0 = performance.now();
      return (more?: Labels) => {
        const seconds = (performance.now() - t0) / 1000;
        observe(more ? { ...labels, ...more } : labels, seconds);
        return seconds;
      };
    },
  } as Histogram;
};

// What prom-client's default metrics gave us that the runtime instrumentation (event loop, heap, GC) does not,
// under the names every Prometheus process dashboard expects. (The Prometheus serializer adds no unit suffix,
// so the names carry the unit themselves.)
export const registerProcessMetrics = (): void => {
  const meter = current().meter;
  const startSeconds = Math.round((Date.now() - performance.now()) / 1000);
  meter
    .createObservableCounter('process_cpu_seconds_total', { description: 'User and system CPU time spent' })
    .addCallback((r) => {
      const { user, system } = process.cpuUsage();
      r.observe((user + system) / 1e6);
    });
  meter
    .createObservableGauge('process_resident_memory_bytes', { description: 'Resident memory size' })
    .addCallback((r) => r.observe(process.memoryUsage.rss()));
  meter
    .createObservableGauge('process_start_time_seconds', {
      description: 'Start time, seconds since the epoch',
    })
    .addCallback((r) => r.observe(startSeconds));
};
