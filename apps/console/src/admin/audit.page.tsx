import { Button, Code, Group, Select, Stack, Table, TextInput } from '@mantine/core';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { pathsV1AuditGetParametersQueryTypeValues as EVENT_TYPES } from '../api/key-service';
import { when } from '../shared/format';
import { ErrorText } from '../shared/error-text';

export const AuditPage = () => {
  const [aggregateId, setAggregateId] = useState('');
  const [type, setType] = useState<string | null>(null);
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [cursor, setCursor] = useState<string | undefined>();
  const query = {
    aggregateId: aggregateId || undefined,
    type: (type ?? undefined) as (typeof EVENT_TYPES)[number] | undefined,
    from: from ? new Date(from).toISOString() : undefined,
    to: to ? new Date(to).toISOString() : undefined,
    limit: 100,
    cursor,
  };
  const page = useQuery({
    queryKey: ['audit', query],
    placeholderData: keepPreviousData,
    queryFn: () => unwrap(keyService.GET('/v1/audit', { params: { query } })),
  });
  return (
    <Stack>
      <Group align="flex-end">
        <TextInput
          label="Aggregate id"
          placeholder="key_…, grp_…"
          value={aggregateId}
          onChange={(e) => setAggregateId(e.currentTarget.value)}
        />
        <Select
          label="Event type"
          clearable
          searchable
          data={[...EVENT_TYPES]}
          value={type}
          onChange={setType}
        />
        <TextInput
          label="From"
          type="datetime-local"
          value={from}
          onChange={(e) => setFrom(e.currentTarget.value)}
        />
        <TextInput
          label="To"
          type="datetime-local"
          value={to}
          onChange={(e) => setTo(e.currentTarget.value)}
        />
      </Group>
      <ErrorText error={page.isError ? errorText(page.error) : null} />
      <Table striped aria-label="Audit log">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Time</Table.Th>
            <Table.Th>Event</Table.Th>
            <Table.Th>Aggregate</Table.Th>
            <Table.Th>Actor</Table.Th>
            <Table.Th>Data</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(page.data?.data ?? []).map((e) => (
            <Table.Tr key={e.id}>
              <Table.Td>{when(e.time)}</Table.Td>
              <Table.Td>{e.type}</Table.Td>
              <Table.Td ff="monospace">{e.aggregateId}</Table.Td>
              <Table.Td>{e.actor}</Table.Td>
              <Table.Td>
                <Code>{JSON.stringify(e.data).slice(0, 160)}</Code>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      <Group>
        <Button variant="default" disabled={!cursor} onClick={() => setCursor(undefined)}>
          First page
        </Button>
        <Button
          variant="default"
          disabled={!page.data?.nextCursor}
          onClick={() => setCursor(page.data?.nextCursor ?? undefined)}
        >
          Next page
        </Button>
      </Group>
    </Stack>
  );
};
