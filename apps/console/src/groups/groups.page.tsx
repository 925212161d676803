import { Button, Group, Modal, MultiSelect, Stack, Table, Text, TextInput } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { useCanWrite } from '../api/config';
import { ConfirmDialog } from '../shared/confirm.dialog';
import { navigate } from '../shared/route';
import { useGroups, useRoutes, type GroupResource } from './groups.hooks';
import { ErrorText } from '../shared/error-text';
import { budgetOf, BudgetFields, budgetText, type Budget } from '../shared/budget-fields';

export const GroupsPage = () => {
  const canWrite = useCanWrite();
  const groups = useGroups();
  const client = useQueryClient();
  const [editing, setEditing] = useState<GroupResource | 'new' | null>(null);
  const [deleting, setDeleting] = useState<GroupResource | null>(null);
  const [showing, setShowing] = useState<GroupResource | null>(null);
  const [error, setError] = useState<string | null>(null);
  const refresh = () => {
    void client.invalidateQueries({ queryKey: ['groups'] });
    void client.invalidateQueries({ queryKey: ['keys'] });
  };
  return (
    <Stack>
      {canWrite && (
        <Group>
          <Button onClick={() => setEditing('new')}>Create group</Button>
        </Group>
      )}
      <Table striped aria-label="Groups">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Description</Table.Th>
            <Table.Th>Routes</Table.Th>
            <Table.Th>Budget</Table.Th>
            <Table.Th>Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(groups.data?.data ?? []).map((g) => (
            <Table.Tr key={g.id}>
              <Table.Td>{g.name}</Table.Td>
              <Table.Td>{g.description || '—'}</Table.Td>
              <Table.Td>{g.routes.join(', ') || '—'}</Table.Td>
              <Table.Td>{budgetText(g.budget)}</Table.Td>
              <Table.Td>
                <Group gap={4}>
                  <Button size="xs" variant="default" onClick={() => setShowing(g)}>
                    Keys in {g.name}
                  </Button>
                  {canWrite && (
                    <>
                      <Button size="xs" variant="default" onClick={() => setEditing(g)}>
                        Edit {g.name}
                      </Button>
                      <Button size="xs" color="red" variant="subtle" onClick={() => setDeleting(g)}>
                        Delete {g.name}
                      </Button>
                    </>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {editing && (
        <GroupDialog
          group={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={refresh}
        />
      )}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          action="Delete group"
          error={error}
          onCancel={() => setDeleting(null)}
          onConfirm={async () => {
            try {
              await unwrap(keyService.DELETE('/v1/groups/{id}', { params: { path: { id: deleting.id } } }));
              setDeleting(null);
              refresh();
            } catch (e) {
              setError(errorText(e));
            }
          }}
        >
          <Text size="sm">Its keys lose the routes it granted.</Text>
        </ConfirmDialog>
      )}
      {showing && <GroupKeys group={showing} onClose={() => setShowing(null)} />}
    </Stack>
  );
};

const GroupDialog = ({
  group,
  onClose,
  onSaved,
}: {
  group: GroupResource | null;
  onClose: () => void;
  onSaved: () => void;
}) => {
  const routes = useRoutes().data?.data ?? [];
  const [name, setName] = useState(group?.name ?? '');
  const [description, setDescription] = useState(group?.description ?? '');
  const [selected, setSelected] = useState<string[]>(group?.routes ?? []);
  // Shared by every key of the group; an empty amount is no budget (removed on save).
  const [budget, setBudget] = useState({
    amount: group?.budget?.amountUsd ?? '',
    period: group?.budget?.period ?? ('month' as Budget['period']),
  });
  const [error, setError] = useState<string | null>(null);
  const save = async () => {
    setError(null);
    try {
      const body = { name, description, routes: selected, budget: budgetOf(budget.amount, budget.period) };
      await unwrap(
        group
          ? keyService.PATCH('/v1/groups/{id}', { params: { path: { id: group.id } }, body })
          : keyService.POST('/v1/groups', { body }),
      );
      onSaved();
      onClose();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <Modal opened onClose={onClose} title={group ? `Edit ${group.name}` : 'Create group'}>
      <Stack>
        <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
        <TextInput
          label="Description"
          value={description}
          onChange={(e) => setDescription(e.currentTarget.value)}
        />
        <MultiSelect
          label="Routes"
          searchable
          data={routes.map((r) => r.name)}
          value={selected}
          onChange={setSelected}
        />
        <Group grow>
          <BudgetFields
            amount={budget.amount}
            period={budget.period}
            onChange={(patch) => setBudget({ ...budget, ...patch })}
          />
        </Group>
        <Text size="xs" c="dimmed">
          The budget is shared: the spend of every key of the group together stays within it.
        </Text>
        <ErrorText error={error} />
        <Group justify="flex-end">
          <Button onClick={save}>Save</Button>
        </Group>
      </Stack>
    </Modal>
  );
};

const GroupKeys = ({ group, onClose }: { group: GroupResource; onClose: () => void }) => {
  const keys = useQuery({
    queryKey: ['keys', 'group', group.id],
    queryFn: () =>
      unwrap(keyService.GET('/v1/keys', { params: { query: { groupId: group.id, limit: 200 } } })),
  });
  return (
    <Modal opened onClose={onClose} title={`Keys in ${group.name}`}>
      <Stack gap={4}>
        {(keys.data?.data ?? []).map((k) => (
          <Button key={k.id} variant="subtle" justify="flex-start" onClick={() => navigate(`keys/${k.id}`)}>
            {k.name} ({k.maskedKey})
          </Button>
        ))}
        {keys.data?.data.length === 0 && <Text c="dimmed">No key.</Text>}
      </Stack>
    </Modal>
  );
};
