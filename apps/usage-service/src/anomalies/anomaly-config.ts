import type { UsageServiceEnv } from '../usage-service.env';

export interface AnomalyConfig {
  windowSeconds: number;
  alpha: number;
  zThreshold: number;
  warmupWindows: number;
  minRequests: number;
  minCostUsd: number;
  authFailures: number;
  authWindowSeconds: number;
  dormantDays: number;
  newNetwork: boolean;
  dedupeSeconds: number;
}

export const anomalyConfig = (env: UsageServiceEnv): AnomalyConfig => ({
  windowSeconds: env.ANOMALY_WINDOW_SECONDS,
  alpha: env.ANOMALY_EWMA_ALPHA,
  zThreshold: env.ANOMALY_Z_THRESHOLD,
  warmupWindows: env.ANOMALY_WARMUP_WINDOWS,
  minRequests: env.ANOMALY_MIN_REQUESTS,
  minCostUsd: Number(env.ANOMALY_MIN_COST_USD),
  authFailures: env.ANOMALY_AUTH_FAILURES,
  authWindowSeconds: env.ANOMALY_AUTH_WINDOW_SECONDS,
  dormantDays: env.ANOMALY_DORMANT_DAYS,
  newNetwork: env.ANOMALY_NEW_NETWORK === 'true',
  dedupeSeconds: env.ALERT_DEDUPE_SECONDS,
});
