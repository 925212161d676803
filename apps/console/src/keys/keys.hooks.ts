import { keepPreviousData, useQuery, useQueryClient } from '@tanstack/react-query';
import { keyService, unwrap } from '../api/clients';
import { useUsageService } from '../api/config';
import type { components, paths } from '../api/key-service';

export type KeyResource = components['schemas']['KeyResourceDto'];
export type CreatedKey = components['schemas']['CreatedKeyDto'];
export type CreateKeyBody = components['schemas']['CreateKeyDto'];

type ListQuery = NonNullable<paths['/v1/keys']['get']['parameters']['query']>;

export interface KeyFilters {
  search: string;
  state: ListQuery['state'] | null;
  groupId: string | null;
  ownerId: string;
  environment: ListQuery['environment'] | null;
  unusedDays: number | null;
  expiringBefore: string; // yyyy-mm-dd
}

const DAY = 86_400_000;

export const useKeys = (f: KeyFilters, cursor: string | undefined) =>
  useQuery({
    queryKey: ['keys', f, cursor],
    placeholderData: keepPreviousData,
    queryFn: () =>
      unwrap(
        keyService.GET('/v1/keys', {
          params: {
            query: {
              search: f.search || undefined,
              state: f.state ?? undefined,
              groupId: f.groupId ?? undefined,
              ownerId: f.ownerId || undefined,
              environment: f.environment ?? undefined,
              unusedSince: f.unusedDays ? new Date(Date.now() - f.unusedDays * DAY).toISOString() : undefined,
              expiringBefore: f.expiringBefore ? new Date(f.expiringBefore).toISOString() : undefined,
              limit: 25,
              cursor,
            },
          },
        }),
      ),
  });

export const useKey = (id: string | undefined) =>
  useQuery({
    queryKey: ['key', id],
    enabled: !!id,
    queryFn: () => unwrap(keyService.GET('/v1/keys/{id}', { params: { path: { id: id! } } })),
  });

// Cost per key over the last 30 days (usage-service summary by key).
export const useKeyCosts = () => {
  const usage = useUsageService();
  return useQuery({
    queryKey: ['usage', 'summary', 'key', '30d'],
    enabled: !!usage,
    queryFn: async () => {
      const page = await unwrap(
        usage!.GET('/v1/usage/summary', {
          params: { query: { groupBy: 'key', from: new Date(Date.now() - 30 * DAY).toISOString() } },
        }),
      );
      return new Map(page.data.map((r) => [r.keyId ?? '', r.costUsd]));
    },
  });
};

export const useRefreshKeys = () => {
  const client = useQueryClient();
  return (id?: string) => {
    void client.invalidateQueries({ queryKey: ['keys'] });
    if (id) void client.invalidateQueries({ queryKey: ['key', id] });
  };
};
