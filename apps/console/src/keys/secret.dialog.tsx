import { Alert, Button, Code, CopyButton, Group, Modal, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { useConsoleConfig } from '../api/config';
import { download } from '../shared/format';
import type { CreatedKey } from './keys.hooks';

// The key in clear, shown once. It lives only in the state of the component that received it (the create or
// rotate dialog); closing asks for confirmation, and the parent then unmounts it: nothing keeps the key.
export const SecretDialog = ({ created, onClosed }: { created: CreatedKey; onClosed: () => void }) => {
  const [confirming, setConfirming] = useState(false);
  const baseUrl = useConsoleConfig().data?.gatewayBaseUrl ?? '';
  const pak = () =>
    JSON.stringify(
      {
        format: 'keygate-key/1',
        id: created.id,
        name: created.name,
        environment: created.environment,
        key: created.key,
        baseUrl,
        createdAt: created.createdAt,
        expiresAt: created.expiresAt,
      },
      null,
      2,
    );
  const fileBase = created.name.replace(/[^A-Za-z0-9._-]+/g, '-') || created.id;
  return (
    <Modal
      opened
      onClose={() => setConfirming(true)}
      title="Your new API key"
      size="lg"
      closeOnClickOutside={false}
    >
      {confirming ? (
        <Stack>
          <Text>Close this dialog? The key cannot be shown again: make sure you copied or saved it.</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(false)}>
              Back to the key
            </Button>
            <Button color="red" onClick={onClosed}>
              Close, I saved it
            </Button>
          </Group>
        </Stack>
      ) : (
        <Stack>
          <Alert color="yellow" title="Shown once">
            This key will not be shown again. Copy it or save it to a file now.
          </Alert>
          <Code block aria-label="New API key" data-testid="new-key">
            {created.key}
          </Code>
          <Group>
            <CopyButton value={created.key}>
              {({ copied, copy }) => <Button onClick={copy}>{copied ? 'Copied' : 'Copy'}</Button>}
            </CopyButton>
            <Button variant="default" onClick={() => download(`${fileBase}.pak`, pak(), 'application/json')}>
              Save as .pak
            </Button>
            <Button
              variant="default"
              onClick={() =>
                download(
                  `${fileBase}.env`,
                  `OPENAI_API_KEY=${created.key}\nOPENAI_BASE_URL=${baseUrl}\n`,
                  'text/plain',
                )
              }
            >
              Save as .env
            </Button>
          </Group>
          <Group justify="flex-end">
            <Button onClick={() => setConfirming(true)}>Done</Button>
          </Group>
        </Stack>
      )}
    </Modal>
  );
};
