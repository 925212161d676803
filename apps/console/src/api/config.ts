import { useQuery } from '@tanstack/react-query';
import { keyService, unwrap, usageService } from './clients';
import type { components } from './key-service';

export type ConsoleConfig = components['schemas']['ConsoleConfigDto'];

export const useConsoleConfig = () =>
  useQuery({
    queryKey: ['console-config'],
    queryFn: () => unwrap(keyService.GET('/v1/console/config')),
    staleTime: Infinity,
  });

// Auditors see the same pages without any control that would change something.
export const useCanWrite = (): boolean => useConsoleConfig().data?.role === 'admin';

export const useUsageService = () => {
  const config = useConsoleConfig().data;
  return config ? usageService(config.usageServiceUrl) : undefined;
};
