// A key's own baseline of a per-window metric (requests, cost): exponentially weighted mean and variance.
// Pure functions; the monitor keeps the state in anomaly_baselines.

export interface Baseline {
  mean: number;
  variance: number;
  windows: number; // windows folded so far
}

export const EMPTY_BASELINE: Baseline = { mean: 0, variance: 0, windows: 0 };

export interface SpikeRule {
  alpha: number; // weight of the newest window
  zThreshold: number;
  // No alert below this volume in the window, whatever the z-score: a quiet key pages no one.
  minVolume: number;
  // No alert before the baseline has seen this many windows.
  warmupWindows: number;
  // A steady key has a variance near 0; the floor keeps one extra request from being "infinitely" anomalous.
  stdFloor: (mean: number) => number;
}

// The first windows use the running mean (alpha = 1/n) so the baseline is not biased towards its zero start;
// after 1/alpha windows it becomes the usual EWMA.
export const fold = (b: Baseline, x: number, alpha: number): Baseline => {
  const windows = b.windows + 1;
  const a = Math.max(alpha, 1 / windows);
  const diff = x - b.mean;
  const incr = a * diff;
  return { mean: b.mean + incr, variance: (1 - a) * (b.variance + diff * incr), windows };
};

const MAX_IDLE_STEPS = 10_000;

// k windows without any traffic. Beyond MAX_IDLE_STEPS the baseline has decayed to nothing anyway.
export const foldIdle = (b: Baseline, k: number, alpha: number): Baseline => {
  if (k <= 0) return b;
  if (k > MAX_IDLE_STEPS) return { mean: 0, variance: 0, windows: b.windows + k };
  let out = b;
  for (let i = 0; i < k; i++) out = fold(out, 0, alpha);
  return out;
};

export const stdDev = (b: Baseline, rule: SpikeRule): number =>
  Math.max(Math.sqrt(b.variance), rule.stdFloor(b.mean));

export interface Score {
  z: number;
  spike: boolean;
}

// Also valid for a window still in progress: its count only grows, so a partial window over the threshold is
// conclusive, and one under it simply has not spiked yet.
export const score = (b: Baseline, x: number, rule: SpikeRule): Score => {
  const z = (x - b.mean) / stdDev(b, rule);
  return { z, spike: b.windows >= rule.warmupWindows && x >= rule.minVolume && z >= rule.zThreshold };
};

// A spike is folded clipped to the threshold, so one burst does not teach the baseline that bursts are normal.
export const foldClipped = (b: Baseline, x: number, rule: SpikeRule): Baseline => {
  const ceiling = b.windows >= rule.warmupWindows ? b.mean + rule.zThreshold * stdDev(b, rule) : x;
  return fold(b, Math.min(x, ceiling), rule.alpha);
};

// A whole series at once (the unit specs and offline analysis): the indexes of the windows that spiked.
export const spikesIn = (series: number[], rule: SpikeRule): number[] => {
  const spikes: number[] = [];
  let b = EMPTY_BASELINE;
  series.forEach((x, i) => {
    if (score(b, x, rule).spike) spikes.push(i);
    b = foldClipped(b, x, rule);
  });
  return spikes;
};

export const requestRule = (o: Omit<SpikeRule, 'stdFloor'>): SpikeRule => ({
  ...o,
  // Counts are at least Poisson-noisy: sd ≥ √mean, and never below one request.
  stdFloor: (mean) => Math.max(1, Math.sqrt(mean)),
});

export const costRule = (o: Omit<SpikeRule, 'stdFloor'>): SpikeRule => ({
  ...o,
  // Cost has no natural unit of noise: 10% of the mean, and a micro-dollar.
  stdFloor: (mean) => Math.max(mean * 0.1, 1e-6),
});
