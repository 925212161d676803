import {
  Button,
  Group,
  Modal,
  MultiSelect,
  PasswordInput,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, unwrap } from '../api/clients';
import { createWebhookDtoTypesValues as ALERT_TYPES } from '../api/usage-service';
import { useCanWrite, useUsageService } from '../api/config';
import { ConfirmDialog } from '../shared/confirm.dialog';
import { when } from '../shared/format';
import { ErrorText } from '../shared/error-text';

export const WebhooksPage = () => {
  const canWrite = useCanWrite();
  const usage = useUsageService();
  const client = useQueryClient();
  const hooks = useQuery({
    queryKey: ['webhooks'],
    enabled: !!usage,
    queryFn: () => unwrap(usage!.GET('/v1/webhooks')),
  });
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<string | null>(null);
  const [showing, setShowing] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => void client.invalidateQueries({ queryKey: ['webhooks'] });
  return (
    <Stack>
      {canWrite && (
        <Group>
          <Button onClick={() => setAdding(true)}>Add webhook</Button>
        </Group>
      )}
      <Table striped aria-label="Webhooks">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>URL</Table.Th>
            <Table.Th>Alert types</Table.Th>
            <Table.Th>Description</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(hooks.data?.data ?? []).map((h) => (
            <Table.Tr key={h.id}>
              <Table.Td>{h.url}</Table.Td>
              <Table.Td>{h.types?.join(', ') ?? 'all'}</Table.Td>
              <Table.Td>{h.description || '—'}</Table.Td>
              <Table.Td>{when(h.createdAt)}</Table.Td>
              <Table.Td>
                <Group gap={4}>
                  <Button size="xs" variant="default" onClick={() => setShowing(h.id)}>
                    Deliveries
                  </Button>
                  {canWrite && (
                    <Button size="xs" color="red" variant="subtle" onClick={() => setRemoving(h.id)}>
                      Delete
                    </Button>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {hooks.data?.data.length === 0 && <Text c="dimmed">No webhook.</Text>}
      {adding && <AddWebhook onClose={() => setAdding(false)} onSaved={refresh} />}
      {showing && <Deliveries id={showing} onClose={() => setShowing(null)} />}
      {removing && (
        <ConfirmDialog
          title="Delete webhook?"
          action="Delete webhook"
          error={error}
          onCancel={() => setRemoving(null)}
          onConfirm={async () => {
            try {
              await unwrap(usage!.DELETE('/v1/webhooks/{id}', { params: { path: { id: removing } } }));
              setRemoving(null);
              refresh();
            } catch (e) {
              setError(errorText(e));
            }
          }}
        >
          <Text size="sm">Pending deliveries are cancelled; the delivery log stays.</Text>
        </ConfirmDialog>
      )}
    </Stack>
  );
};

const AddWebhook = ({ onClose, onSaved }: { onClose: () => void; onSaved: () => void }) => {
  const usage = useUsageService();
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState('');
  const [types, setTypes] = useState<string[]>([]);
  const [description, setDescription] = useState('');
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    try {
      const body = {
        url,
        secret,
        description,
        ...(types.length && { types: types as (typeof ALERT_TYPES)[number][] }),
      };
      await unwrap(usage!.POST('/v1/webhooks', { body }));
      onSaved();
      onClose();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Modal opened onClose={onClose} title="Add webhook">
      <Stack>
        <TextInput label="URL" required value={url} onChange={(e) => setUrl(e.currentTarget.value)} />
        <PasswordInput
          label="Signing secret"
          description="at least 16 characters; used for the HMAC signature"
          required
          value={secret}
          onChange={(e) => setSecret(e.currentTarget.value)}
        />
        <MultiSelect
          label="Alert types"
          placeholder="all"
          data={[...ALERT_TYPES]}
          value={types}
          onChange={setTypes}
        />
        <TextInput
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <ErrorText error={error} />
        <Group justify="flex-end">
          <Button onClick={save}>Save</Button>
        </Group>
      </Stack>
    </Modal>
  );
};

const Deliveries = ({ id, onClose }: { id: string; onClose: () => void }) => {
  const usage = useUsageService();
  const rows = useQuery({
    queryKey: ['webhooks', id, 'deliveries'],
    queryFn: () => unwrap(usage!.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id } } })),
  });
  return (
    <Modal opened onClose={onClose} title="Deliveries" size="lg">
      <Table aria-label="Deliveries">
        <Table.Tbody>
          {(rows.data?.data ?? []).map((d) => (
            <Table.Tr key={d.id}>
              <Table.Td>{when(d.createdAt)}</Table.Td>
              <Table.Td>{d.status}</Table.Td>
              <Table.Td>{d.attempts.length} attempt(s)</Table.Td>
              <Table.Td>{d.lastError ?? d.lastStatusCode ?? ''}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {rows.data?.data.length === 0 && <Text c="dimmed">No delivery yet.</Text>}
    </Modal>
  );
};
