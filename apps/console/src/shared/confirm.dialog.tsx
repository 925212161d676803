import { Button, Group, Modal, Stack, TextInput } from '@mantine/core';
import { useState, type ReactNode } from 'react';
import { ErrorText } from './error-text';

// A confirmation for an action that cannot be undone; `typeToConfirm` makes the user type the name first.
export const ConfirmDialog = ({
  title,
  children,
  action,
  typeToConfirm,
  onConfirm,
  onCancel,
  error,
}: {
  title: string;
  children: ReactNode;
  action: string;
  typeToConfirm?: string;
  onConfirm: () => void;
  onCancel: () => void;
  error?: string | null;
}) => {
  const [typed, setTyped] = useState('');
  return (
    <Modal opened onClose={onCancel} title={title}>
      <Stack>
        {children}
        {typeToConfirm !== undefined && (
          <TextInput
            label={`Type "${typeToConfirm}" to confirm`}
            value={typed}
            onChange={(e) => setTyped(e.currentTarget.value)}
          />
        )}
        <ErrorText error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onCancel}>
            Cancel
          </Button>
          <Button
            color="red"
            disabled={typeToConfirm !== undefined && typed !== typeToConfirm}
            onClick={onConfirm}
          >
            {action}
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
};
