import { useQuery } from '@tanstack/react-query';
import { keyService, unwrap } from '../api/clients';
import type { components } from '../api/key-service';

export type GroupResource = components['schemas']['GroupResourceDto'];

export const useGroups = () =>
  useQuery({
    queryKey: ['groups'],
    queryFn: () => unwrap(keyService.GET('/v1/groups', { params: { query: { limit: 200 } } })),
  });

export const useRoutes = () =>
  useQuery({
    queryKey: ['routes'],
    queryFn: () => unwrap(keyService.GET('/v1/routes')),
    staleTime: 5 * 60_000,
  });

export const groupNames = (groups: GroupResource[] | undefined): Map<string, string> =>
  new Map((groups ?? []).map((g) => [g.id, g.name]));
