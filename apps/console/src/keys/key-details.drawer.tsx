import { Badge, Button, Drawer, Group, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { useCanWrite } from '../api/config';
import { groupNames, useGroups } from '../groups/groups.hooks';
import { stateColor, when } from '../shared/format';
import { UsageChart } from '../usage/usage-chart';
import { useAlerts } from '../usage/usage.hooks';
import { KeyActions } from './key-actions';
import { dormancyText, KeyAsOf } from './key-as-of';
import { useKey, useRefreshKeys, type KeyResource } from './keys.hooks';
import { routeLimitsText } from './route-limits.editor';
import { Facts } from '../shared/facts';
import { budgetText } from '../shared/budget-fields';
import { ErrorText } from '../shared/error-text';

const Section = ({ title, children }: { title: string; children: React.ReactNode }) => (
  <Stack gap={6}>
    <Title order={3} size="h4">
      {title}
    </Title>
    {children}
  </Stack>
);

export const KeyDetailsDrawer = ({ keyId, onClose }: { keyId: string; onClose: () => void }) => {
  const key = useKey(keyId);
  return (
    <Drawer opened onClose={onClose} position="right" size="xl" title={key.data?.name ?? 'Key'}>
      <ErrorText error={key.isError ? errorText(key.error) : null} />
      {key.data && <KeyDetails k={key.data} onDeleted={onClose} />}
    </Drawer>
  );
};

const KeyDetails = ({ k, onDeleted }: { k: KeyResource; onDeleted: () => void }) => {
  const canWrite = useCanWrite();
  const names = groupNames(useGroups().data?.data);
  const alerts = useAlerts(k.id);
  const [asOf, setAsOf] = useState<string | null>(null);
  const history = useQuery({
    queryKey: ['audit', k.id],
    queryFn: () =>
      unwrap(keyService.GET('/v1/audit', { params: { query: { aggregateId: k.id, limit: 200 } } })),
  });
  // The key's own limit; its per-route limits have their own row.
  const own = k.rateLimit ?? {};
  const rateLimit = own.tier
    ? `tier ${own.tier}`
    : own.requestsPerMinute || own.tokensPerMinute || own.maxConcurrentRequests
      ? `${own.requestsPerMinute ?? '∞'} req/min, ${own.tokensPerMinute ?? '∞'} tokens/min` +
        (own.maxConcurrentRequests ? `, ${own.maxConcurrentRequests} in flight` : '')
      : 'none';
  return (
    <Stack gap="lg">
      <Group>
        <Badge color={stateColor(k.state)} size="lg" variant="filled">
          {k.state}
        </Badge>
        <Text ff="monospace">{k.maskedKey}</Text>
      </Group>
      {canWrite && <KeyActions k={k} onDeleted={onDeleted} />}
      <Section title="General information">
        <Facts
          rows={[
            [
              'ID',
              <Text ff="monospace" size="sm" key="id">
                {k.id}
              </Text>,
            ],
            ['Name', k.name],
            ['Description', k.description || '—'],
            ['Owner', k.ownerId ?? '—'],
            ['Environment', k.environment],
            ['Created', when(k.createdAt)],
            ['Updated', when(k.updatedAt)],
            ['Rotated', when(k.rotatedAt, 'never')],
            ['Last used', when(k.lastUsedAt, 'never')],
            ['Version', k.version],
          ]}
        />
      </Section>
      <Section title="Restrictions">
        <Facts
          rows={[
            ['Expires', when(k.expiresAt, 'never')],
            ['IP allow list', k.ipAllow.join(', ') || 'any'],
            ['IP deny list', k.ipDeny.join(', ') || 'none'],
            ['Rate limit', rateLimit],
            ['Route limits', routeLimitsText(k.rateLimit?.routes)],
            ['Budget', budgetText(k.budget)],
            ['Rotation period', k.rotationPeriodDays ? `${k.rotationPeriodDays} days` : 'none'],
            ['Suspend when unused', dormancyText(k.dormantAfterDays)],
          ]}
        />
      </Section>
      <KeyGroups k={k} names={names} canWrite={canWrite} />
      <Section title="Accessible routes">
        <Table aria-label="Accessible routes">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Route</Table.Th>
              <Table.Th>Granted by</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {k.routeGrants.map((g) => (
              <Table.Tr key={g.route}>
                <Table.Td>{g.route}</Table.Td>
                <Table.Td>{g.groups.map((x) => x.name).join(', ')}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {k.routeGrants.length === 0 && <Text c="dimmed">No route: add the key to a group.</Text>}
      </Section>
      <Section title="Usage">
        <UsageChart keyId={k.id} title="Requests, tokens and cost" />
      </Section>
      <Section title="Alerts">
        {(alerts.data?.data ?? []).map((a) => (
          <Text key={a.id} size="sm">
            {when(a.raisedAt)} · {a.severity} · {a.type.replaceAll('_', ' ')} · {a.message}
          </Text>
        ))}
        {alerts.data?.data.length === 0 && <Text c="dimmed">No alert.</Text>}
      </Section>
      <Section title="History">
        <Table aria-label="Key history">
          <Table.Tbody>
            {[...(history.data?.data ?? [])].reverse().map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td>{when(e.time)}</Table.Td>
                <Table.Td>{e.type}</Table.Td>
                <Table.Td>{e.actor}</Table.Td>
                <Table.Td>
                  <Button size="xs" variant="subtle" onClick={() => setAsOf(e.time)}>
                    As of {when(e.time)}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {asOf && <KeyAsOf keyId={k.id} at={asOf} onClose={() => setAsOf(null)} />}
      </Section>
    </Stack>
  );
};

const KeyGroups = ({
  k,
  names,
  canWrite,
}: {
  k: KeyResource;
  names: Map<string, string>;
  canWrite: boolean;
}) => {
  const refresh = useRefreshKeys();
  const [adding, setAdding] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const change = async (method: 'PUT' | 'DELETE', groupId: string) => {
    setError(null);
    try {
      const params = { params: { path: { id: k.id, groupId } } };
      await unwrap(
        method === 'PUT'
          ? keyService.PUT('/v1/keys/{id}/groups/{groupId}', params)
          : keyService.DELETE('/v1/keys/{id}/groups/{groupId}', params),
      );
      setAdding(null);
      refresh(k.id);
    } catch (e) {
      setError(errorText(e));
    }
  };
  const others = [...names].filter(([id]) => !k.groupIds.includes(id));
  return (
    <Section title="Groups">
      {k.groupIds.map((g) => (
        <Group key={g} justify="space-between">
          <Text>{names.get(g) ?? g}</Text>
          {canWrite && (
            <Button size="xs" variant="subtle" color="red" onClick={() => change('DELETE', g)}>
              Remove from {names.get(g) ?? g}
            </Button>
          )}
        </Group>
      ))}
      {k.groupIds.length === 0 && <Text c="dimmed">In no group.</Text>}
      {canWrite && (
        <Group align="flex-end">
          <Select
            label="Add to group"
            searchable
            data={others.map(([value, label]) => ({ value, label }))}
            value={adding}
            onChange={setAdding}
          />
          <Button disabled={!adding} onClick={() => adding && change('PUT', adding)}>
            Add to group
          </Button>
        </Group>
      )}
      <ErrorText error={error} />
    </Section>
  );
};
