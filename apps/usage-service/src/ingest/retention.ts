// Daily partitions of usage_requests and the retention window, as pure date arithmetic (UTC calendar days).

const DAY_MS = 86_400_000;
// Gateway clocks may run a little ahead; anything further in the future is refused rather than partitioned.
export const MAX_FUTURE_MS = DAY_MS;

export const utcDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

export const addDays = (day: string, n: number): string =>
  utcDay(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS);

// The oldest day whose raw rows are kept: `retentionDays` whole days before today.
export const retentionCutoffDay = (now: number, retentionDays: number): string =>
  addDays(utcDay(now), -retentionDays);

export type Admission = 'ok' | 'too_old' | 'future';

// Events older than the cutoff are refused: their partition (and so their dedupe row) may already be gone,
// and counting a redelivery of one twice is worse than not counting it.
export const admission = (timeMs: number, now: number, retentionDays: number): Admission => {
  if (utcDay(timeMs) < retentionCutoffDay(now, retentionDays)) return 'too_old';
  if (timeMs > now + MAX_FUTURE_MS) return 'future';
  return 'ok';
};

const PARTITION = /^usage_requests_p(\d{4})(\d{2})(\d{2})$/;

export const partitionName = (day: string): string => `usage_requests_p${day.replace(/-/g, '')}`;

export const partitionDay = (name: string): string | null => {
  const m = PARTITION.exec(name);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : null;
};

// Partitions whose whole day lies before the cutoff.
export const expiredPartitions = (names: string[], now: number, retentionDays: number): string[] => {
  const cutoff = retentionCutoffDay(now, retentionDays);
  return names.filter((n) => {
    const day = partitionDay(n);
    return day !== null && day < cutoff;
  });
};
