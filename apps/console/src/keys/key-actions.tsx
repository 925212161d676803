import { Button, Group, Modal, NumberInput, Stack, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { ConfirmDialog } from '../shared/confirm.dialog';
import { useRefreshKeys, type CreatedKey, type KeyResource } from './keys.hooks';
import { SecretDialog } from './secret.dialog';
import { ErrorText } from '../shared/error-text';

type Dialog = 'edit' | 'rotate' | 'revoke' | 'delete' | null;

export const KeyActions = ({ k, onDeleted }: { k: KeyResource; onDeleted: () => void }) => {
  const refresh = useRefreshKeys();
  const [dialog, setDialog] = useState<Dialog>(null);
  const [error, setError] = useState<string | null>(null);
  const [reason, setReason] = useState('');
  const [grace, setGrace] = useState<number | string>(3600);
  const [name, setName] = useState(k.name);
  const [description, setDescription] = useState(k.description);
  // '' = the deployment default (null), 0 = never.
  const [dormancy, setDormancy] = useState<number | string>(k.dormantAfterDays ?? '');
  // The rotated key in clear: only here, until its dialog is closed.
  const [rotated, setRotated] = useState<CreatedKey | null>(null);
  const path = { params: { path: { id: k.id } } };

  const run = async (call: () => Promise<unknown>, after?: () => void) => {
    setError(null);
    try {
      await call();
      setDialog(null);
      refresh(k.id);
      after?.();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const open = (d: Dialog) => {
    setError(null);
    setDialog(d);
  };
  const live = k.state !== 'revoked';

  return (
    <>
      <Group gap="xs">
        {live && <Button onClick={() => open('edit')}>Edit</Button>}
        {live && (
          <Button variant="default" onClick={() => open('rotate')}>
            Rotate
          </Button>
        )}
        {k.state === 'active' && (
          <Button
            variant="default"
            onClick={() => run(() => unwrap(keyService.POST('/v1/keys/{id}/suspend', { ...path, body: {} })))}
          >
            Suspend
          </Button>
        )}
        {k.state === 'suspended' && (
          <Button
            variant="default"
            onClick={() => run(() => unwrap(keyService.POST('/v1/keys/{id}/reactivate', path)))}
          >
            Reactivate
          </Button>
        )}
        {live && (
          <Button color="red" variant="filled" onClick={() => open('revoke')}>
            Revoke
          </Button>
        )}
        <Button color="red" variant="subtle" onClick={() => open('delete')}>
          Delete
        </Button>
      </Group>
      <ErrorText error={dialog === null ? error : null} />
      {dialog === 'edit' && (
        <Modal opened onClose={() => setDialog(null)} title={`Edit ${k.name}`}>
          <Stack>
            <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
            <TextInput
              label="Description"
              value={description}
              onChange={(e) => setDescription(e.currentTarget.value)}
            />
            <NumberInput
              label="Suspend after days unused"
              description="0 = never; empty = the deployment default"
              min={0}
              max={3650}
              value={dormancy}
              onChange={setDormancy}
            />
            <ErrorText error={error} />
            <Group justify="flex-end">
              <Button
                onClick={() =>
                  run(() =>
                    unwrap(
                      keyService.PATCH('/v1/keys/{id}', {
                        ...path,
                        body: {
                          name,
                          description,
                          dormantAfterDays: dormancy === '' ? null : Number(dormancy),
                        },
                        headers: { 'if-match': `"${k.version}"` },
                      }),
                    ),
                  )
                }
              >
                Save
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
      {dialog === 'rotate' && (
        <Modal opened onClose={() => setDialog(null)} title={`Rotate ${k.name}`}>
          <Stack>
            <Text size="sm">A new key is issued now; the old one keeps working for the grace period.</Text>
            <NumberInput
              label="Grace period (seconds)"
              min={0}
              max={30 * 86400}
              value={grace}
              onChange={setGrace}
            />
            <ErrorText error={error} />
            <Group justify="flex-end">
              <Button
                onClick={async () => {
                  setError(null);
                  try {
                    const body = { gracePeriodSeconds: Number(grace) || 0 };
                    setRotated(await unwrap(keyService.POST('/v1/keys/{id}/rotate', { ...path, body })));
                    setDialog(null);
                  } catch (e) {
                    setError(errorText(e));
                  }
                }}
              >
                Rotate
              </Button>
            </Group>
          </Stack>
        </Modal>
      )}
      {rotated && (
        <SecretDialog
          created={rotated}
          onClosed={() => {
            setRotated(null);
            refresh(k.id);
          }}
        />
      )}
      {dialog === 'revoke' && (
        <ConfirmDialog
          title={`Revoke ${k.name}?`}
          action="Revoke key"
          typeToConfirm={k.name}
          error={error}
          onCancel={() => setDialog(null)}
          onConfirm={() =>
            run(() =>
              unwrap(keyService.POST('/v1/keys/{id}/revoke', { ...path, body: reason ? { reason } : {} })),
            )
          }
        >
          <Text size="sm">Revoking is irreversible: every request with this key is refused at once.</Text>
          <TextInput label="Reason" value={reason} onChange={(e) => setReason(e.currentTarget.value)} />
        </ConfirmDialog>
      )}
      {dialog === 'delete' && (
        <ConfirmDialog
          title={`Delete ${k.name}?`}
          action="Delete key"
          error={error}
          onCancel={() => setDialog(null)}
          onConfirm={() => run(() => unwrap(keyService.DELETE('/v1/keys/{id}', path)), onDeleted)}
        >
          <Text size="sm">The key disappears from listings and stops working; its usage history stays.</Text>
        </ConfirmDialog>
      )}
    </>
  );
};
