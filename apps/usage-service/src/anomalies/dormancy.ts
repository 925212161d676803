const DAY_MS = 86_400_000;

// A use after at least `days` of silence (since the last use, or since creation for a key never used).
export const dormantDays = (referenceMs: number | null, useMs: number, days: number): number | null => {
  if (referenceMs === null) return null;
  const idle = (useMs - referenceMs) / DAY_MS;
  return idle >= days ? Math.floor(idle) : null;
};
