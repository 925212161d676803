import { Badge, Button, Stack, Table, Text } from '@mantine/core';
import { useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, unwrap } from '../api/clients';
import { useCanWrite, useUsageService } from '../api/config';
import { when } from '../shared/format';
import { useAlerts } from '../usage/usage.hooks';
import { ErrorText } from '../shared/error-text';

const SEVERITY: Record<string, string> = { info: 'blue', warning: 'yellow', critical: 'red' };

export const AlertsPage = () => {
  const canWrite = useCanWrite();
  const usage = useUsageService();
  const alerts = useAlerts();
  const client = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const ack = async (id: string) => {
    try {
      await unwrap(usage!.POST('/v1/alerts/{id}/ack', { params: { path: { id } } }));
      void client.invalidateQueries({ queryKey: ['alerts'] });
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Stack>
      <ErrorText error={error} />
      <Table striped aria-label="Alerts">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Raised</Table.Th>
            <Table.Th>Severity</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Subject</Table.Th>
            <Table.Th>Message</Table.Th>
            <Table.Th>Acknowledged</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(alerts.data?.data ?? []).map((a) => (
            <Table.Tr key={a.id}>
              <Table.Td>{when(a.raisedAt)}</Table.Td>
              <Table.Td>
                <Badge color={SEVERITY[a.severity] ?? 'gray'} variant="dot">
                  {a.severity}
                </Badge>
              </Table.Td>
              <Table.Td>{a.type}</Table.Td>
              <Table.Td>{a.subject}</Table.Td>
              <Table.Td>{a.message}</Table.Td>
              <Table.Td>
                {a.acknowledgedAt
                  ? `${when(a.acknowledgedAt)} by ${a.acknowledgedBy}`
                  : canWrite && (
                      <Button size="xs" onClick={() => ack(a.id)}>
                        Acknowledge
                      </Button>
                    )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {alerts.data?.data.length === 0 && <Text c="dimmed">No alert.</Text>}
    </Stack>
  );
};
