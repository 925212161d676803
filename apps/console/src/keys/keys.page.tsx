import { Badge, Button, Group, Stack, Table, Text, UnstyledButton } from '@mantine/core';
import { useState } from 'react';
import { errorText } from '../api/clients';
import { useCanWrite } from '../api/config';
import { groupNames, useGroups } from '../groups/groups.hooks';
import { when, stateColor, usd } from '../shared/format';
import { navigate } from '../shared/route';
import { CreateKeyDialog } from './create-key.dialog';
import { KeyDetailsDrawer } from './key-details.drawer';
import { KeyFiltersBar } from './key-filters';
import { ReportLeakedDialog } from './report-leaked.dialog';
import { useKeyCosts, useKeys, type KeyFilters, type KeyResource } from './keys.hooks';
import { ErrorText } from '../shared/error-text';

type SortBy = 'name' | 'createdAt' | 'lastUsedAt' | 'expiresAt' | 'cost';

const EMPTY: KeyFilters = {
  search: '',
  state: null,
  groupId: null,
  ownerId: '',
  environment: null,
  unusedDays: null,
  expiringBefore: '',
};

export const KeysPage = ({ openKeyId }: { openKeyId?: string }) => {
  const canWrite = useCanWrite();
  const [filters, setFilters] = useState(EMPTY);
  const [cursors, setCursors] = useState<string[]>([]); // the cursors of the pages before this one
  const [sort, setSort] = useState<{ by: SortBy; desc: boolean }>({ by: 'createdAt', desc: true });
  const [creating, setCreating] = useState(false);
  const [reporting, setReporting] = useState(false);
  const cursor = cursors[cursors.length - 1];
  const keys = useKeys(filters, cursor);
  const costs = useKeyCosts();
  const names = groupNames(useGroups().data?.data);

  const value = (k: KeyResource): string | number =>
    sort.by === 'cost'
      ? Number(costs.data?.get(k.id) ?? 0)
      : sort.by === 'name'
        ? k.name
        : (k[sort.by] ?? '');
  const rows = [...(keys.data?.data ?? [])].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    return (x < y ? -1 : x > y ? 1 : 0) * (sort.desc ? -1 : 1);
  });
  const header = (by: SortBy, label: string) => (
    <Table.Th aria-sort={sort.by === by ? (sort.desc ? 'descending' : 'ascending') : undefined}>
      <UnstyledButton onClick={() => setSort({ by, desc: sort.by === by ? !sort.desc : false })}>
        {label} {sort.by === by ? (sort.desc ? '↓' : '↑') : ''}
      </UnstyledButton>
    </Table.Th>
  );

  return (
    <Stack>
      <Group justify="space-between" align="flex-end">
        <KeyFiltersBar
          filters={filters}
          onChange={(f) => {
            setFilters(f);
            setCursors([]);
          }}
        />
        {canWrite && (
          <Group>
            <Button variant="outline" color="red" onClick={() => setReporting(true)}>
              Report leaked keys
            </Button>
            <Button onClick={() => setCreating(true)}>Create key</Button>
          </Group>
        )}
      </Group>
      <ErrorText error={keys.isError ? errorText(keys.error) : null} />
      <Table.ScrollContainer minWidth={1200}>
        <Table striped highlightOnHover aria-label="API keys">
          <Table.Thead>
            <Table.Tr>
              {header('name', 'Name')}
              <Table.Th>Key</Table.Th>
              <Table.Th>ID</Table.Th>
              <Table.Th>Owner</Table.Th>
              <Table.Th>Env</Table.Th>
              <Table.Th>Groups</Table.Th>
              <Table.Th>Routes</Table.Th>
              <Table.Th>State</Table.Th>
              {header('createdAt', 'Created')}
              {header('expiresAt', 'Expires')}
              {header('lastUsedAt', 'Last used')}
              {header('cost', 'Cost (30 d)')}
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {rows.map((k) => (
              <Table.Tr key={k.id}>
                <Table.Td>
                  <UnstyledButton c="blue.9" td="underline" onClick={() => navigate(`keys/${k.id}`)}>
                    {k.name}
                  </UnstyledButton>
                </Table.Td>
                <Table.Td>
                  <Text ff="monospace" size="sm">
                    {k.maskedKey}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text ff="monospace" size="xs">
                    {k.id}
                  </Text>
                </Table.Td>
                <Table.Td>{k.ownerId ?? '—'}</Table.Td>
                <Table.Td>{k.environment}</Table.Td>
                <Table.Td>{k.groupIds.map((g) => names.get(g) ?? g).join(', ') || '—'}</Table.Td>
                <Table.Td>{k.accessibleRoutes.length}</Table.Td>
                <Table.Td>
                  <Badge color={stateColor(k.state)} variant="filled">
                    {k.state}
                  </Badge>
                </Table.Td>
                <Table.Td>{when(k.createdAt)}</Table.Td>
                <Table.Td>{when(k.expiresAt, 'never')}</Table.Td>
                <Table.Td>{when(k.lastUsedAt, 'never')}</Table.Td>
                <Table.Td>{usd(costs.data?.get(k.id) ?? '0')}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {keys.data && rows.length === 0 && <Text c="dimmed">No keys match.</Text>}
      <Group>
        <Button variant="default" disabled={cursors.length === 0} onClick={() => setCursors([])}>
          First page
        </Button>
        <Button
          variant="default"
          disabled={!keys.data?.nextCursor}
          onClick={() => keys.data?.nextCursor && setCursors([...cursors, keys.data.nextCursor])}
        >
          Next page
        </Button>
      </Group>
      {creating && <CreateKeyDialog onClose={() => setCreating(false)} />}
      {reporting && <ReportLeakedDialog onClose={() => setReporting(false)} />}
      {openKeyId && <KeyDetailsDrawer keyId={openKeyId} onClose={() => navigate('keys')} />}
    </Stack>
  );
};
