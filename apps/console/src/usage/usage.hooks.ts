import { useQuery } from '@tanstack/react-query';
import { unwrap } from '../api/clients';
import { useUsageService } from '../api/config';

export type RangeName = '24h' | '7d' | '30d';
const HOUR = 3_600_000;
export const RANGES: Record<RangeName, { ms: number; granularity: 'minute' | 'hour' | 'day' }> = {
  '24h': { ms: 24 * HOUR, granularity: 'hour' },
  '7d': { ms: 7 * 24 * HOUR, granularity: 'hour' },
  '30d': { ms: 30 * 24 * HOUR, granularity: 'day' },
};

const window = (range: RangeName) => ({
  from: new Date(Date.now() - RANGES[range].ms).toISOString(),
  to: new Date(Date.now() + 60_000).toISOString(),
  granularity: RANGES[range].granularity,
});

// Requests, tokens and cost over time: of one key, or of every key.
export const useUsageSeries = (range: RangeName, keyId?: string) => {
  const usage = useUsageService();
  return useQuery({
    queryKey: ['usage', 'series', range, keyId ?? '*'],
    enabled: !!usage,
    queryFn: async () => {
      const query = window(range);
      const page = keyId
        ? await unwrap(usage!.GET('/v1/usage/keys/{keyId}', { params: { path: { keyId }, query } }))
        : await unwrap(usage!.GET('/v1/usage/timeseries', { params: { query } }));
      return page.data.map((b) => ({
        time: b.start.slice(0, 16).replace('T', ' '),
        requests: b.requests,
        tokens: b.promptTokens + b.completionTokens,
        cost: Number(b.costUsd),
      }));
    },
  });
};

export type Dimension = 'key' | 'owner' | 'route' | 'model' | 'provider' | 'group';

export const useUsageSummary = (range: RangeName, groupBy: Dimension) => {
  const usage = useUsageService();
  return useQuery({
    queryKey: ['usage', 'summary', range, groupBy],
    enabled: !!usage,
    queryFn: () => {
      const { from, to } = window(range);
      return unwrap(usage!.GET('/v1/usage/summary', { params: { query: { from, to, groupBy } } }));
    },
  });
};

export const useAlerts = (keyId?: string) => {
  const usage = useUsageService();
  return useQuery({
    queryKey: ['alerts', keyId ?? '*'],
    enabled: !!usage,
    queryFn: () => unwrap(usage!.GET('/v1/alerts', { params: { query: { keyId, limit: 100 } } })),
  });
};
