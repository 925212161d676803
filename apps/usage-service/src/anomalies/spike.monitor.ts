import type { DataSource } from 'typeorm';
import type { AlertInput } from '../alerts/alert';
import type { AlertService } from '../alerts/alert.service';
import { AUTH_FAILURE_CODES, isKeyUse, type AfterIngest, type UsageRow } from '../ingest/usage-row';
import type { AnomalyConfig } from './anomaly-config';
import {
  costRule,
  foldClipped,
  foldIdle,
  requestRule,
  score,
  stdDev,
  type Baseline,
  type SpikeRule,
} from './ewma';

type Metric = 'requests' | 'cost';

interface State extends Baseline {
  lastWindow: number; // the newest window folded into the baseline
}

// Request-rate and cost spikes against each key's own EWMA baseline over fixed windows. Counts come from the
// ledger (exact, deduplicated, shared by every instance), the baseline from anomaly_baselines. Per batch and key:
// fold the windows that closed since the last fold, then score the window in progress. The baseline only moves
// forward (guarded update), so a redelivered batch or a second instance racing on the same key changes nothing.
export class SpikeMonitor implements AfterIngest {
  readonly name = 'spikes';
  private readonly rules: Record<Metric, SpikeRule>;

  constructor(
    private readonly db: DataSource,
    private readonly alerts: AlertService,
    private readonly cfg: AnomalyConfig,
  ) {
    const base = { alpha: cfg.alpha, zThreshold: cfg.zThreshold, warmupWindows: cfg.warmupWindows };
    this.rules = {
      requests: requestRule({ ...base, minVolume: cfg.minRequests }),
      cost: costRule({ ...base, minVolume: cfg.minCostUsd }),
    };
  }

  async afterIngest(rows: UsageRow[]): Promise<void> {
    const W = this.cfg.windowSeconds;
    const current = new Map<string, number>();
    for (const r of rows.filter(isKeyUse)) {
      const w = Math.floor(r.timeMs / 1000 / W);
      current.set(r.keyId, Math.max(current.get(r.keyId) ?? w, w));
    }
    if (current.size === 0) return;
    const keys = [...current.keys()];
    const states = await this.loadStates(keys);
    // A key without a stored baseline (first seen, or state lost) bootstraps from the ledger's recent windows.
    const lookback = Math.min(1000, Math.max(30, this.cfg.warmupWindows * 3));
    const ranges = keys.map((k) => {
      const cw = current.get(k)!;
      const last = Math.min(
        states.get(`${k}:requests`)?.lastWindow ?? Infinity,
        states.get(`${k}:cost`)?.lastWindow ?? Infinity,
      );
      return {
        key: k,
        from: Number.isFinite(last) ? Math.max(last + 1, cw - 100_000) : cw - lookback,
        to: cw,
      };
    });
    const counts = await this.windowCounts(ranges.filter((r) => r.from <= r.to));
    const updates: { key: string; metric: Metric; state: State }[] = [];
    const raised: AlertInput[] = [];
    for (const { key, to: cw } of ranges) {
      for (const metric of ['requests', 'cost'] as Metric[]) {
        const series = counts.get(key) ?? new Map<number, { requests: number; cost: number }>();
        // Bootstrapping starts at the key's first window with traffic: idle time before a key's first request
        // is no baseline (a new key's first busy minute is not a spike).
        const firstUse = Math.min(cw, ...[...series.keys()]);
        const before = states.get(`${key}:${metric}`) ?? {
          mean: 0,
          variance: 0,
          windows: 0,
          lastWindow: firstUse - 1,
        };
        if (cw <= before.lastWindow) continue; // old data: that window is already in the baseline
        let b: Baseline = before;
        let at = before.lastWindow;
        for (const w of [...series.keys()]
          .filter((w) => w > before.lastWindow && w < cw)
          .sort((x, y) => x - y)) {
          b = foldIdle(b, w - at - 1, this.cfg.alpha);
          b = foldClipped(b, series.get(w)![metric], this.rules[metric]);
          at = w;
        }
        b = foldIdle(b, cw - at - 1, this.cfg.alpha);
        const x = series.get(cw)?.[metric] ?? 0;
        const s = score(b, x, this.rules[metric]);
        if (s.spike) raised.push(this.alert(key, metric, cw, x, b, s.z));
        if (cw - 1 > before.lastWindow || !states.has(`${key}:${metric}`))
          updates.push({ key, metric, state: { ...b, lastWindow: cw - 1 } });
      }
    }
    await this.saveStates(updates);
    await this.alerts.raiseAll(raised);
  }

  private alert(keyId: string, metric: Metric, w: number, x: number, b: Baseline, z: number): AlertInput {
    const W = this.cfg.windowSeconds;
    const sd = stdDev(b, this.rules[metric]);
    const fmt = (n: number) => (metric === 'cost' ? `${n.toFixed(6)} USD` : `${Math.round(n)} requests`);
    return {
      type: metric === 'requests' ? 'request_spike' : 'cost_spike',
      keyId,
      subject: keyId,
      severity: 'warning',
      message: `${metric === 'requests' ? 'request-rate' : 'cost'} spike on ${keyId}: ${fmt(x)} in ${W} s against a baseline of ${fmt(b.mean)} (z = ${z.toFixed(1)})`,
      details: {
        metric,
        windowStart: new Date(w * W * 1000).toISOString(),
        windowSeconds: W,
        observed: metric === 'cost' ? Number(x.toFixed(12)) : x,
        baselineMean: b.mean,
        baselineStdDev: sd,
        zScore: z,
        baselineWindows: b.windows,
      },
      dedupeKey: `${metric === 'requests' ? 'request_spike' : 'cost_spike'}:${keyId}`,
      dedupeSeconds: this.cfg.dedupeSeconds,
    };
  }

  private async loadStates(keys: string[]): Promise<Map<string, State>> {
    const rows: {
      key_id: string;
      metric: Metric;
      mean: number;
      variance: number;
      windows: number;
      last_window: string;
    }[] = await this.db.query(
      `SELECT key_id, metric, mean, variance, windows, last_window FROM anomaly_baselines
         WHERE key_id = ANY ($1) AND window_seconds = $2`,
      [keys, this.cfg.windowSeconds],
    );
    return new Map(
      rows.map((r) => [
        `${r.key_id}:${r.metric}`,
        { mean: r.mean, variance: r.variance, windows: r.windows, lastWindow: Number(r.last_window) },
      ]),
    );
  }

  // Requests and cost per key and window over [from, to], authentication failures excluded.
  private async windowCounts(
    ranges: { key: string; from: number; to: number }[],
  ): Promise<Map<string, Map<number, { requests: number; cost: number }>>> {
    const out = new Map<string, Map<number, { requests: number; cost: number }>>();
    if (ranges.length === 0) return out;
    const W = this.cfg.windowSeconds;
    // Whole-minute windows read the per-minute aggregates (a few rows per key and minute); shorter windows the
    // raw rows. Either way authentication failures are not the key's traffic.
    const sql =
      W % 60 === 0
        ? `SELECT m.key_id, floor(extract(epoch FROM m.bucket) / $4)::bigint AS w, sum(m.requests) AS n,
                  sum(m.cost_usd)::float8 AS cost
           FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS k(key_id, t0, t1)
           JOIN usage_minute m ON m.key_id = k.key_id AND m.bucket >= k.t0 AND m.bucket < k.t1
           WHERE m.error_code <> ALL ($5)
           GROUP BY 1, 2`
        : `SELECT r.key_id, floor(extract(epoch FROM r.time) / $4)::bigint AS w, count(*) AS n,
                  sum(r.cost_usd)::float8 AS cost
           FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS k(key_id, t0, t1)
           JOIN usage_requests r ON r.key_id = k.key_id AND r.time >= k.t0 AND r.time < k.t1
           WHERE NOT (r.outcome = 'rejected' AND coalesce(r.error_code, '') = ANY ($5))
           GROUP BY 1, 2`;
    const rows: { key_id: string; w: string; n: string; cost: number }[] = await this.db.query(sql, [
      ranges.map((r) => r.key),
      ranges.map((r) => new Date(r.from * W * 1000)),
      ranges.map((r) => new Date((r.to + 1) * W * 1000)),
      W,
      [...AUTH_FAILURE_CODES],
    ]);
    for (const r of rows) {
      if (!out.has(r.key_id)) out.set(r.key_id, new Map());
      out.get(r.key_id)!.set(Number(r.w), { requests: Number(r.n), cost: r.cost });
    }
    return out;
  }

  private async saveStates(updates: { key: string; metric: Metric; state: State }[]): Promise<void> {
    if (updates.length === 0) return;
    await this.db.query(
      `INSERT INTO anomaly_baselines (key_id, metric, window_seconds, mean, variance, windows, last_window)
       SELECT k, m, $3, mean, variance, windows, last_window
       FROM unnest($1::text[], $2::text[], $4::float8[], $5::float8[], $6::int[], $7::bigint[])
         AS u(k, m, mean, variance, windows, last_window)
       ON CONFLICT (key_id, metric, window_seconds) DO UPDATE SET mean = excluded.mean,
         variance = excluded.variance, windows = excluded.windows, last_window = excluded.last_window
       WHERE anomaly_baselines.last_window < excluded.last_window`,
      [
        updates.map((u) => u.key),
        updates.map((u) => u.metric),
        this.cfg.windowSeconds,
        updates.map((u) => u.state.mean),
        updates.map((u) => u.state.variance),
        updates.map((u) => Math.min(u.state.windows, 2_000_000_000)),
        updates.map((u) => u.state.lastWindow),
      ],
    );
  }
}
