import { Button, Checkbox, Group, NumberInput, SegmentedControl, Stack, Table, Text } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { useCanWrite, useUsageService } from '../api/config';
import { ConfirmDialog } from '../shared/confirm.dialog';
import { when } from '../shared/format';
import { ErrorText } from '../shared/error-text';

// The seeds' "delete unused keys" and "rotate every 90 days": keys unused for N days, keys past their rotation
// period, each with bulk revoke / delete.
export const HygienePage = () => {
  const canWrite = useCanWrite();
  const usage = useUsageService();
  const client = useQueryClient();
  const [report, setReport] = useState<'unused' | 'stale'>('unused');
  const [days, setDays] = useState<number | string>(90);
  const [picked, setPicked] = useState<string[]>([]);
  const [bulk, setBulk] = useState<'revoke' | 'delete' | null>(null);
  const [error, setError] = useState<string | null>(null);
  const rows = useQuery({
    queryKey: ['hygiene', report, days],
    enabled: !!usage,
    queryFn: () =>
      report === 'unused'
        ? unwrap(
            usage!.GET('/v1/keys/unused', { params: { query: { days: Number(days) || 90, limit: 500 } } }),
          )
        : unwrap(usage!.GET('/v1/keys/stale', { params: { query: { limit: 500 } } })),
  });
  const keys = rows.data?.data ?? [];
  const apply = async () => {
    setError(null);
    const failed: string[] = [];
    for (const id of picked) {
      const path = { params: { path: { id } } };
      await unwrap(
        bulk === 'revoke'
          ? keyService.POST('/v1/keys/{id}/revoke', { ...path, body: { reason: `hygiene: ${report}` } })
          : keyService.DELETE('/v1/keys/{id}', path),
      ).catch((e: unknown) => failed.push(`${id}: ${errorText(e)}`));
    }
    setBulk(null);
    setPicked([]);
    if (failed.length) setError(failed.join('; '));
    void client.invalidateQueries({ queryKey: ['hygiene'] });
    void client.invalidateQueries({ queryKey: ['keys'] });
  };
  return (
    <Stack>
      <Group align="flex-end">
        <SegmentedControl
          aria-label="Report"
          value={report}
          onChange={(v) => {
            setReport(v as 'unused' | 'stale');
            setPicked([]);
          }}
          data={[
            { value: 'unused', label: 'Unused keys' },
            { value: 'stale', label: 'Past rotation period' },
          ]}
        />
        {report === 'unused' && (
          <NumberInput label="Unused for days" min={1} max={3650} value={days} onChange={setDays} w={150} />
        )}
        {canWrite && (
          <>
            <Button color="red" variant="filled" disabled={!picked.length} onClick={() => setBulk('revoke')}>
              Revoke selected
            </Button>
            <Button color="red" variant="subtle" disabled={!picked.length} onClick={() => setBulk('delete')}>
              Delete selected
            </Button>
          </>
        )}
      </Group>
      <ErrorText error={error} />
      <Table striped aria-label={report === 'unused' ? 'Unused keys' : 'Keys past their rotation period'}>
        <Table.Thead>
          <Table.Tr>
            {canWrite && (
              <Table.Th>
                <Checkbox
                  aria-label="Select all"
                  checked={keys.length > 0 && picked.length === keys.length}
                  onChange={(e) => setPicked(e.currentTarget.checked ? keys.map((k) => k.keyId) : [])}
                />
              </Table.Th>
            )}
            <Table.Th>Name</Table.Th>
            <Table.Th>Owner</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Last used</Table.Th>
            <Table.Th>{report === 'stale' ? 'Rotation due' : 'Rotated'}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {keys.map((k) => (
            <Table.Tr key={k.keyId}>
              {canWrite && (
                <Table.Td>
                  <Checkbox
                    aria-label={`Select ${k.name}`}
                    checked={picked.includes(k.keyId)}
                    onChange={(e) =>
                      setPicked(
                        e.currentTarget.checked ? [...picked, k.keyId] : picked.filter((p) => p !== k.keyId),
                      )
                    }
                  />
                </Table.Td>
              )}
              <Table.Td>{k.name}</Table.Td>
              <Table.Td>{k.ownerId || '—'}</Table.Td>
              <Table.Td>{k.state}</Table.Td>
              <Table.Td>{when(k.createdAt)}</Table.Td>
              <Table.Td>{when(k.lastUsedAt, 'never')}</Table.Td>
              <Table.Td>{report === 'stale' ? when(k.rotationDueAt) : when(k.rotatedAt, 'never')}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {rows.data && keys.length === 0 && <Text c="dimmed">Nothing to clean up.</Text>}
      {bulk && (
        <ConfirmDialog
          title={`${bulk === 'revoke' ? 'Revoke' : 'Delete'} ${picked.length} key(s)?`}
          action={bulk === 'revoke' ? 'Revoke keys' : 'Delete keys'}
          onCancel={() => setBulk(null)}
          onConfirm={apply}
        >
          <Text size="sm">
            {bulk === 'revoke'
              ? 'Revoking is irreversible.'
              : 'Deleted keys stop working; their usage history stays.'}
          </Text>
        </ConfirmDialog>
      )}
    </Stack>
  );
};
