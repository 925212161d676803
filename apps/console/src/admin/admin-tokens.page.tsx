import {
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { useCanWrite } from '../api/config';
import type { components } from '../api/key-service';
import { ConfirmDialog } from '../shared/confirm.dialog';
import { when } from '../shared/format';
import { ErrorText } from '../shared/error-text';

type Issued = components['schemas']['IssuedAdminTokenDto'];

export const AdminTokensPage = () => {
  const canWrite = useCanWrite();
  const client = useQueryClient();
  const tokens = useQuery({
    queryKey: ['admin-tokens'],
    queryFn: () => unwrap(keyService.GET('/v1/admin-tokens', { params: { query: { limit: 200 } } })),
  });
  const [issuing, setIssuing] = useState(false);
  const [revoking, setRevoking] = useState<{ id: string; name: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => void client.invalidateQueries({ queryKey: ['admin-tokens'] });
  return (
    <Stack>
      {canWrite && (
        <Group>
          <Button onClick={() => setIssuing(true)}>Issue token</Button>
        </Group>
      )}
      <Table striped aria-label="Admin tokens">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Role</Table.Th>
            <Table.Th>Token</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Revoked</Table.Th>
            <Table.Th>Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(tokens.data?.data ?? []).map((t) => (
            <Table.Tr key={t.id}>
              <Table.Td>{t.name}</Table.Td>
              <Table.Td>
                <Badge variant="filled">{t.role}</Badge>
              </Table.Td>
              <Table.Td ff="monospace">{t.maskedToken}</Table.Td>
              <Table.Td>{when(t.createdAt)}</Table.Td>
              <Table.Td>{when(t.revokedAt)}</Table.Td>
              <Table.Td>
                {canWrite && !t.revokedAt && (
                  <Button size="xs" color="red" variant="subtle" onClick={() => setRevoking(t)}>
                    Revoke {t.name}
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {issuing && <IssueToken onClose={() => setIssuing(false)} onIssued={refresh} />}
      {revoking && (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          action="Revoke token"
          error={error}
          onCancel={() => setRevoking(null)}
          onConfirm={async () => {
            try {
              await unwrap(
                keyService.DELETE('/v1/admin-tokens/{id}', { params: { path: { id: revoking.id } } }),
              );
              setRevoking(null);
              refresh();
            } catch (e) {
              setError(errorText(e));
            }
          }}
        >
          <Text size="sm">Whoever uses this token is refused from now on.</Text>
        </ConfirmDialog>
      )}
    </Stack>
  );
};

// Issue form, then the token once (held in this component's state only).
const IssueToken = ({ onClose, onIssued }: { onClose: () => void; onIssued: () => void }) => {
  const [name, setName] = useState('');
  const [role, setRole] = useState<'admin' | 'auditor'>('auditor');
  const [issued, setIssued] = useState<Issued | null>(null);
  const [error, setError] = useState<string | null>(null);
  const issue = async () => {
    try {
      setIssued(await unwrap(keyService.POST('/v1/admin-tokens', { body: { name, role } })));
      onIssued();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Modal
      opened
      onClose={onClose}
      title={issued ? 'Your new admin token' : 'Issue token'}
      closeOnClickOutside={!issued}
    >
      {issued ? (
        <Stack>
          <Alert color="yellow" title="Shown once">
            This token will not be shown again.
          </Alert>
          <Code block aria-label="New admin token">
            {issued.token}
          </Code>
          <Group justify="flex-end">
            <CopyButton value={issued.token}>
              {({ copied, copy }) => <Button onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}
            </CopyButton>
            <Button variant="default" onClick={onClose}>
              Done
            </Button>
          </Group>
        </Stack>
      ) : (
        <Stack>
          <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          <Select
            label="Role"
            allowDeselect={false}
            data={['admin', 'auditor']}
            value={role}
            onChange={(v) => setRole((v as 'admin' | 'auditor') ?? 'auditor')}
          />
          <ErrorText error={error} />
          <Group justify="flex-end">
            <Button onClick={issue}>Issue</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
};
