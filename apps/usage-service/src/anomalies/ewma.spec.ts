import { EMPTY_BASELINE, fold, foldIdle, requestRule, costRule, score, spikesIn } from './ewma';

const rule = requestRule({ alpha: 0.1, zThreshold: 4, minVolume: 50, warmupWindows: 10 });

// Deterministic noise around a level: the same series on every run.
const noisy = (n: number, level: number, amplitude: number, seed = 7): number[] => {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.max(0, Math.round(level + amplitude * ((s / 2 ** 31) * 2 - 1)));
  });
};

describe('EWMA baseline', () => {
  it('starts as a running mean and variance, unbiased by its empty start', () => {
    let b = EMPTY_BASELINE;
    for (const x of [10, 20]) b = fold(b, x, 0.1);
    expect(b.mean).toBe(15);
    expect(b.variance).toBe(25);
    expect(b.windows).toBe(2);
  });

  it('decays towards zero over idle windows', () => {
    const b = foldIdle({ mean: 100, variance: 0, windows: 50 }, 10, 0.1);
    expect(b.mean).toBeCloseTo(100 * 0.9 ** 10, 9);
    expect(b.windows).toBe(60);
    expect(foldIdle(b, 1_000_000, 0.1)).toEqual({ mean: 0, variance: 0, windows: 1_000_060 });
  });
});

describe('request-rate spike detector', () => {
  it('alerts at the spike and not before', () => {
    const series = noisy(60, 100, 15);
    series[40] = 400;
    expect(spikesIn(series, rule)).toEqual([40]);
  });

  it('finds each of several spikes in a longer series', () => {
    const series = noisy(200, 80, 10, 3);
    series[50] = 300;
    series[120] = 260;
    series[121] = 280;
    expect(spikesIn(series, rule)).toEqual([50, 120, 121]);
  });

  it('stays quiet on a gradual ramp', () => {
    const ramp = Array.from({ length: 120 }, (_, i) => 60 + i);
    expect(spikesIn(ramp, rule)).toEqual([]);
  });

  it('stays quiet during warm-up and below the minimum volume', () => {
    const early = [5, 5, 5, 400, ...noisy(20, 5, 2)];
    expect(spikesIn(early, rule)).toEqual([]);
    const quiet = [...Array(30).fill(1), 40, ...Array(10).fill(1)];
    expect(spikesIn(quiet, rule)).toEqual([]);
  });

  it('does not learn a spike as normal: a second burst right after still alerts', () => {
    const series = [...noisy(30, 100, 10), 500, 500, ...noisy(5, 100, 10)];
    expect(spikesIn(series, rule)).toEqual([30, 31]);
  });

  it('scores a window in progress: over the threshold is conclusive', () => {
    let b = EMPTY_BASELINE;
    for (const x of noisy(20, 100, 10)) b = fold(b, x, 0.1);
    expect(score(b, 60, rule).spike).toBe(false);
    expect(score(b, 300, rule).spike).toBe(true);
  });

  it('applies the same rule to cost with a cost floor', () => {
    const cost = costRule({ alpha: 0.1, zThreshold: 4, minVolume: 1, warmupWindows: 10 });
    const series = noisy(40, 100, 8).map((x) => x / 100);
    series[30] = 12.5;
    expect(spikesIn(series, cost)).toEqual([30]);
  });
});
