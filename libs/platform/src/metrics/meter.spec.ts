import { counter, gauge, histogram, metricsText } from './meter';

// The helpers keep prom-client's call shapes; what matters is the Prometheus text GET /metrics serves.
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('metrics helpers (OpenTelemetry SDK behind prom-client shapes)', () => {
  it('counts by label set, positionally or by object, and shows an unlabelled counter at 0', async () => {
    const c = counter('keygate_spec_lookups_total', 'lookups', ['source']);
    c.inc({ source: 'cache' });
    c.inc({ source: 'cache' }, 2);
    c.labels('redis').inc();
    const plain = counter('keygate_spec_rejections_total', 'rejections');
    const text = await metricsText();
    expect(text).toContain('# HELP keygate_spec_lookups_total lookups');
    expect(text).toContain('# TYPE keygate_spec_lookups_total counter');
    expect(sample(text, 'keygate_spec_lookups_total{source="cache"}')).toBe(3);
    expect(sample(text, 'keygate_spec_lookups_total{source="redis"}')).toBe(1);
    expect(sample(text, 'keygate_spec_rejections_total')).toBe(0);
    plain.inc();
    plain.inc(4);
    expect(sample(await metricsText(), 'keygate_spec_rejections_total')).toBe(5);
  });

  it('keeps the last value of a gauge per label set', async () => {
    const g = gauge('keygate_spec_depth', 'depth');
    g.set(7);
    g.inc();
    g.dec(3);
    const lag = gauge('keygate_spec_lag_seconds', 'lag', ['partition']);
    lag.set({ partition: 0 }, 1.5);
    lag.labels('1').set(0.25);
    const text = await metricsText();
    expect(text).toContain('# TYPE keygate_spec_depth gauge');
    expect(sample(text, 'keygate_spec_depth')).toBe(5);
    expect(sample(text, 'keygate_spec_lag_seconds{partition="0"}')).toBe(1.5);
    expect(sample(text, 'keygate_spec_lag_seconds{partition="1"}')).toBe(0.25);
  });

  it('observes histograms with the given buckets (seconds-sized defaults otherwise)', async () => {
    const h = histogram('keygate_spec_duration_seconds', 'duration', ['endpoint'], [0.01, 0.1, 1]);
    h.observe({ endpoint: 'chat' }, 0.05);
    h.observe({ endpoint: 'chat' }, 0.5);
    h.labels('embeddings').observe(2);
    const stop = h.startTimer({ endpoint: 'chat' });
    expect(stop()).toBeLessThan(0.01);
    const d = histogram('keygate_spec_default_seconds', 'default buckets');
    d.observe(0.2);
    const text = await metricsText();
    expect(text).toContain('# TYPE keygate_spec_duration_seconds histogram');
    expect(sample(text, 'keygate_spec_duration_seconds_count{endpoint="chat"}')).toBe(3);
    expect(sample(text, 'keygate_spec_duration_seconds_bucket{endpoint="chat",le="0.1"}')).toBe(2);
    expect(sample(text, 'keygate_spec_duration_seconds_bucket{endpoint="embeddings",le="1"}')).toBe(0);
    expect(sample(text, 'keygate_spec_duration_seconds_bucket{endpoint="embeddings",le="+Inf"}')).toBe(1);
    expect(sample(text, 'keygate_spec_default_seconds_bucket{le="0.25"}')).toBe(1);
    expect(sample(text, 'keygate_spec_default_seconds_bucket{le="0.1"}')).toBe(0);
  });

  // patches/@opentelemetry+sdk-metrics: the SDK hashes a record's attributes (sort, arrays, JSON) once per reader;
  // a frozen set's hash is kept, and label sets bound with labels() are frozen.
  it('hashes a bound label set once, and keeps equal sets in one series and others apart', async () => {
    const h = histogram('keygate_spec_bound_seconds', 'bound', ['provider', 'outcome'], [0.1, 1]);
    const a = h.labels({ provider: 'a', outcome: 'ok' });
    const again = h.labels('a', 'ok');
    const b = h.labels({ provider: 'b', outcome: 'ok' });
    a.observe(0.05); // first records: hashed here
    b.observe(0.05);
    again.observe(0.05);
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      for (let i = 0; i < 100; i++) {
        a.observe(0.5);
        b.observe(2);
      }
      expect(stringify).not.toHaveBeenCalled();
    } finally {
      stringify.mockRestore();
    }
    h.observe({ provider: 'a', outcome: 'ok' }, 0.5); // an unfrozen object of the same set: the same series
    const text = await metricsText();
    expect(sample(text, 'keygate_spec_bound_seconds_count{provider="a",outcome="ok"}')).toBe(103);
    expect(sample(text, 'keygate_spec_bound_seconds_bucket{provider="a",outcome="ok",le="0.1"}')).toBe(2);
    expect(sample(text, 'keygate_spec_bound_seconds_count{provider="b",outcome="ok"}')).toBe(101);
    expect(sample(text, 'keygate_spec_bound_seconds_bucket{provider="b",outcome="ok",le="1"}')).toBe(1);
  });
});
