import { Badge, Button, Group, Stack, Text } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { errorText, keyService, unwrap } from '../api/clients';
import { ErrorText } from '../shared/error-text';
import { Facts } from '../shared/facts';
import { budgetText } from '../shared/budget-fields';
import { stateColor, when } from '../shared/format';
import type { KeyResource } from './keys.hooks';

type KeyAt = KeyResource & { asOf?: { at: string; event: { type: string; actor: string; time: string } } };

export const dormancyText = (days: number | null | undefined): string =>
  days === 0 ? 'never' : days ? `after ${days} days unused` : 'deployment default';

// The key as it was at an instant of its history (GET /v1/keys/:id?at=), folded from its events by the key-service.
export const KeyAsOf = ({ keyId, at, onClose }: { keyId: string; at: string; onClose: () => void }) => {
  const then = useQuery({
    queryKey: ['key', keyId, 'at', at],
    queryFn: async () =>
      (await unwrap(
        keyService.GET('/v1/keys/{id}', { params: { path: { id: keyId }, query: { at } } }),
      )) as KeyAt,
  });
  const k = then.data;
  return (
    <Stack gap={6} aria-label={`Key as of ${when(at)}`} role="region">
      <Group justify="space-between">
        <Text fw={600}>As of {when(at)}</Text>
        <Button size="xs" variant="subtle" onClick={onClose}>
          Close as-of view
        </Button>
      </Group>
      <ErrorText error={then.isError ? errorText(then.error) : null} />
      {k && (
        <Facts
          rows={[
            [
              'State',
              <Badge key="s" color={stateColor(k.state)} variant="filled">
                {k.state}
              </Badge>,
            ],
            [
              'Made so by',
              k.asOf ? `${k.asOf.event.type} by ${k.asOf.event.actor}, ${when(k.asOf.event.time)}` : '—',
            ],
            ['Name', k.name],
            ['Key', k.maskedKey],
            ['Routes', k.accessibleRoutes.join(', ') || 'none'],
            ['Expires', when(k.expiresAt, 'never')],
            ['IP allow list', k.ipAllow.join(', ') || 'any'],
            ['IP deny list', k.ipDeny.join(', ') || 'none'],
            ['Budget', budgetText(k.budget)],
            ['Dormancy', dormancyText(k.dormantAfterDays)],
            ['Version', k.version],
          ]}
        />
      )}
    </Stack>
  );
};
