import { Badge, Button, Group, Stack, Table, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { useCanWrite } from '../api/config';
import type { components } from '../api/key-service';
import { ConfirmDialog } from '../shared/confirm.dialog';
import { when } from '../shared/format';
import { ProviderDialog } from './provider.dialog';

export type ProviderResource = components['schemas']['ProviderResourceDto'];
type Probe = components['schemas']['ProbeResultDto'];

export const ProvidersPage = () => {
  const canWrite = useCanWrite();
  const client = useQueryClient();
  const providers = useQuery({
    queryKey: ['providers'],
    queryFn: () => unwrap(keyService.GET('/v1/providers', { params: { query: { limit: 200 } } })),
  });
  const [dialog, setDialog] = useState<{
    mode: 'add' | 'edit' | 'rotate';
    provider?: ProviderResource;
  } | null>(null);
  const [removing, setRemoving] = useState<ProviderResource | null>(null);
  const [removeError, setRemoveError] = useState<string | null>(null);
  const [probes, setProbes] = useState<Record<string, Probe | { error: string } | 'testing'>>({});
  const refresh = () => void client.invalidateQueries({ queryKey: ['providers'] });

  const test = async (p: ProviderResource) => {
    setProbes((s) => ({ ...s, [p.id]: 'testing' }));
    try {
      const r = await unwrap(keyService.POST('/v1/providers/{id}/test', { params: { path: { id: p.id } } }));
      setProbes((s) => ({ ...s, [p.id]: r }));
    } catch (e) {
      setProbes((s) => ({ ...s, [p.id]: { error: errorText(e) } }));
    }
  };
  const probeText = (id: string) => {
    const r = probes[id];
    if (!r) return null;
    if (r === 'testing') return <Text size="sm">Testing…</Text>;
    if ('ok' in r && r.ok)
      return (
        <Text size="sm" role="status">
          Connection ok ({r.latencyMs} ms)
        </Text>
      );
    return (
      <Text size="sm" c="red" role="status">
        Connection failed:{' '}
        {'ok' in r ? `${r.error ?? 'error'}${r.status ? ` (HTTP ${r.status})` : ''}` : r.error}
      </Text>
    );
  };

  return (
    <Stack>
      {canWrite && (
        <Group>
          <Button onClick={() => setDialog({ mode: 'add' })}>Add provider</Button>
        </Group>
      )}
      <Table striped aria-label="Provider credentials">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Secret</Table.Th>
            <Table.Th>Settings</Table.Th>
            <Table.Th>Updated</Table.Th>
            <Table.Th>Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(providers.data?.data ?? []).map((p) => (
            <Table.Tr key={p.id}>
              <Table.Td>{p.name}</Table.Td>
              <Table.Td>
                <Badge variant="filled">{p.type}</Badge>
              </Table.Td>
              <Table.Td ff="monospace">{p.maskedSecret}</Table.Td>
              <Table.Td>
                {Object.entries(p.settings)
                  .map(([k, v]) => `${k}: ${v}`)
                  .join(', ') || '—'}
              </Table.Td>
              <Table.Td>{when(p.updatedAt)}</Table.Td>
              <Table.Td>
                {canWrite && (
                  <Stack gap={4}>
                    <Group gap={4}>
                      <Button size="xs" onClick={() => test(p)}>
                        Test connection
                      </Button>
                      <Button
                        size="xs"
                        variant="default"
                        onClick={() => setDialog({ mode: 'edit', provider: p })}
                      >
                        Settings
                      </Button>
                      <Button
                        size="xs"
                        variant="default"
                        onClick={() => setDialog({ mode: 'rotate', provider: p })}
                      >
                        Rotate secret
                      </Button>
                      <Button size="xs" color="red" variant="subtle" onClick={() => setRemoving(p)}>
                        Remove
                      </Button>
                    </Group>
                    {probeText(p.id)}
                  </Stack>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {providers.data?.data.length === 0 && <Text c="dimmed">No provider credential yet.</Text>}
      {dialog && <ProviderDialog {...dialog} onClose={() => setDialog(null)} onSaved={refresh} />}
      {removing && (
        <ConfirmDialog
          title={`Remove ${removing.name}?`}
          action="Remove provider"
          error={removeError}
          onCancel={() => setRemoving(null)}
          onConfirm={async () => {
            try {
              await unwrap(
                keyService.DELETE('/v1/providers/{id}', { params: { path: { id: removing.id } } }),
              );
              setRemoving(null);
              refresh();
            } catch (e) {
              setRemoveError(errorText(e));
            }
          }}
        >
          <Text size="sm">Routes using this credential fail until another is added under the same name.</Text>
        </ConfirmDialog>
      )}
    </Stack>
  );
};
