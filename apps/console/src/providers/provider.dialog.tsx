import { Button, Group, Modal, PasswordInput, Select, Stack, TextInput } from '@mantine/core';
import { useState } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import type { components } from '../api/key-service';
import type { ProviderResource } from './providers.page';
import { ErrorText } from '../shared/error-text';

type Settings = components['schemas']['ProviderSettingsDto'];
type ProviderType = 'openai' | 'azure' | 'gemini';

// The settings each provider type takes (Azure: endpoint, deployment, API version).
const FIELDS: Record<ProviderType, { key: keyof Settings; label: string; placeholder: string }[]> = {
  openai: [
    { key: 'baseUrl', label: 'Base URL', placeholder: 'https://api.openai.com/v1' },
    { key: 'organization', label: 'Organization', placeholder: 'org-…' },
  ],
  azure: [
    { key: 'endpoint', label: 'Endpoint', placeholder: 'https://my-resource.openai.azure.com' },
    { key: 'deployment', label: 'Deployment', placeholder: 'gpt-4o-mini' },
    { key: 'apiVersion', label: 'API version', placeholder: '2024-10-21' },
  ],
  gemini: [{ key: 'baseUrl', label: 'Base URL', placeholder: 'https://generativelanguage.googleapis.com' }],
};

export const ProviderDialog = ({
  mode,
  provider,
  onClose,
  onSaved,
}: {
  mode: 'add' | 'edit' | 'rotate';
  provider?: ProviderResource;
  onClose: () => void;
  onSaved: () => void;
}) => {
  const [name, setName] = useState(provider?.name ?? '');
  const [type, setType] = useState<ProviderType>((provider?.type as ProviderType) ?? 'openai');
  // The secret is write-only: typed here, sent once, never read back.
  const [secret, setSecret] = useState('');
  const [settings, setSettings] = useState<Settings>((provider?.settings as Settings) ?? {});
  const [error, setError] = useState<string | null>(null);
  const clean = Object.fromEntries(Object.entries(settings).filter(([, v]) => v)) as Settings;

  const save = async () => {
    setError(null);
    try {
      if (mode === 'add')
        await unwrap(keyService.POST('/v1/providers', { body: { name, type, secret, settings: clean } }));
      else if (mode === 'edit')
        await unwrap(
          keyService.PATCH('/v1/providers/{id}', {
            params: { path: { id: provider!.id } },
            body: { settings: clean },
          }),
        );
      else
        await unwrap(
          keyService.POST('/v1/providers/{id}/rotate', {
            params: { path: { id: provider!.id } },
            body: { secret },
          }),
        );
      setSecret('');
      onSaved();
      onClose();
    } catch (e) {
      setError(errorText(e));
    }
  };

  const title =
    mode === 'add'
      ? 'Add provider'
      : mode === 'edit'
        ? `Settings of ${provider!.name}`
        : `Rotate ${provider!.name}`;
  return (
    <Modal opened onClose={onClose} title={title}>
      <Stack>
        {mode === 'add' && (
          <>
            <TextInput
              label="Name"
              description="the credential name routes.yaml refers to"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
            />
            <Select
              label="Type"
              allowDeselect={false}
              data={[
                { value: 'openai', label: 'OpenAI' },
                { value: 'azure', label: 'Azure OpenAI' },
                { value: 'gemini', label: 'Google Gemini' },
              ]}
              value={type}
              onChange={(v) => setType((v as ProviderType) ?? 'openai')}
            />
          </>
        )}
        {mode !== 'edit' && (
          <PasswordInput
            label={mode === 'add' ? 'API key' : 'New API key'}
            required
            autoComplete="off"
            value={secret}
            onChange={(e) => setSecret(e.currentTarget.value)}
          />
        )}
        {mode !== 'rotate' &&
          FIELDS[type].map((f) => (
            <TextInput
              key={f.key}
              label={f.label}
              placeholder={f.placeholder}
              value={settings[f.key] ?? ''}
              onChange={(e) => setSettings({ ...settings, [f.key]: e.currentTarget.value })}
            />
          ))}
        <ErrorText error={error} />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button onClick={save}>Save</Button>
        </Group>
      </Stack>
    </Modal>
  );
};
