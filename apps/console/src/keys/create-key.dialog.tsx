import {
  Button,
  Checkbox,
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  SegmentedControl,
  Select,
  Stack,
  Text,
  TextInput,
  Textarea,
} from '@mantine/core';
import type { Budget } from '../shared/budget-fields';
import { useState, type FormEvent } from 'react';
import { errorText, keyService, unwrap } from '../api/clients';
import { useGroups } from '../groups/groups.hooks';
import { cidrProblems, lines } from '../shared/cidr';
import { useRefreshKeys, type CreateKeyBody, type CreatedKey } from './keys.hooks';
import { SecretDialog } from './secret.dialog';
import { ErrorText } from '../shared/error-text';
import { budgetOf, BudgetFields } from '../shared/budget-fields';
import { routeLimitsOf, RouteLimitsEditor, type RouteLimitRow } from './route-limits.editor';

const metadataOf = (text: string): Record<string, string> =>
  Object.fromEntries(
    lines(text.replace(/,/g, '\n')).map((l) => {
      const [k, ...v] = l.split('=');
      return [k.trim(), v.join('=').trim()];
    }),
  );

export const CreateKeyDialog = ({ onClose }: { onClose: () => void }) => {
  const groups = useGroups().data?.data ?? [];
  const refresh = useRefreshKeys();
  const [f, setF] = useState({
    name: '',
    description: '',
    ownerId: '',
    environment: 'live',
    groupIds: [] as string[],
    neverExpire: true,
    expiresAt: '',
    ipAllow: '',
    ipDeny: '',
    limitMode: 'none',
    tier: '',
    rpm: '' as number | string,
    tpm: '' as number | string,
    maxConcurrent: '' as number | string,
    routeLimits: [] as RouteLimitRow[],
    budget: '',
    budgetPeriod: 'month' as Budget['period'],
    rotationPeriodDays: '' as number | string,
    dormantAfterDays: '' as number | string,
    metadata: '',
  });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  // The created key (with its secret) is held here only, and gone when this dialog unmounts.
  const [created, setCreated] = useState<CreatedKey | null>(null);
  const set = (patch: Partial<typeof f>) => setF({ ...f, ...patch });
  const allowError = cidrProblems(f.ipAllow);
  const denyError = cidrProblems(f.ipDeny);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (allowError || denyError) return;
    const routes = routeLimitsOf(f.routeLimits);
    const budget = budgetOf(f.budget, f.budgetPeriod);
    const body: CreateKeyBody = {
      name: f.name,
      environment: f.environment as 'live' | 'test',
      ...(f.description && { description: f.description }),
      ...(f.ownerId && { ownerId: f.ownerId }),
      ...(f.groupIds.length && { groupIds: f.groupIds }),
      ...(!f.neverExpire && f.expiresAt && { expiresAt: new Date(f.expiresAt).toISOString() }),
      ...(f.ipAllow && { ipAllow: lines(f.ipAllow) }),
      ...(f.ipDeny && { ipDeny: lines(f.ipDeny) }),
      ...((f.limitMode !== 'none' || routes) && {
        rateLimit: {
          ...(f.limitMode === 'tier' && f.tier && { tier: f.tier }),
          ...(f.limitMode === 'own' && {
            ...(f.rpm !== '' && { requestsPerMinute: Number(f.rpm) }),
            ...(f.tpm !== '' && { tokensPerMinute: Number(f.tpm) }),
            ...(f.maxConcurrent !== '' && { maxConcurrentRequests: Number(f.maxConcurrent) }),
          }),
          ...(routes && { routes }),
        },
      }),
      ...(budget && { budget }),
      ...(f.rotationPeriodDays !== '' && { rotationPeriodDays: Number(f.rotationPeriodDays) }),
      ...(f.dormantAfterDays !== '' && { dormantAfterDays: Number(f.dormantAfterDays) }),
      ...(f.metadata && { metadata: metadataOf(f.metadata) }),
    };
    setBusy(true);
    setError(null);
    try {
      setCreated(await unwrap(keyService.POST('/v1/keys', { body })));
      refresh();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  if (created) return <SecretDialog created={created} onClosed={onClose} />;
  return (
    <Modal opened onClose={onClose} title="Create key" size="lg">
      <form onSubmit={submit}>
        <Stack gap="sm">
          <TextInput
            label="Name"
            required
            value={f.name}
            onChange={(e) => set({ name: e.currentTarget.value })}
          />
          <TextInput
            label="Description"
            value={f.description}
            onChange={(e) => set({ description: e.currentTarget.value })}
          />
          <Group grow>
            <TextInput
              label="Owner"
              value={f.ownerId}
              onChange={(e) => set({ ownerId: e.currentTarget.value })}
            />
            <Select
              label="Environment"
              data={['live', 'test']}
              value={f.environment}
              onChange={(v) => set({ environment: v ?? 'live' })}
              allowDeselect={false}
            />
          </Group>
          <MultiSelect
            label="Groups"
            searchable
            data={groups.map((g) => ({ value: g.id, label: g.name }))}
            value={f.groupIds}
            onChange={(groupIds) => set({ groupIds })}
          />
          <Group align="flex-end">
            <Checkbox
              label="Never expire"
              checked={f.neverExpire}
              onChange={(e) => set({ neverExpire: e.currentTarget.checked })}
            />
            {!f.neverExpire && (
              <TextInput
                label="Expires at"
                type="datetime-local"
                value={f.expiresAt}
                onChange={(e) => set({ expiresAt: e.currentTarget.value })}
              />
            )}
          </Group>
          <Group grow align="flex-start">
            <Textarea
              label="IP allow list"
              description="CIDR ranges, one per line"
              value={f.ipAllow}
              error={allowError}
              onChange={(e) => set({ ipAllow: e.currentTarget.value })}
            />
            <Textarea
              label="IP deny list"
              description="CIDR ranges, one per line"
              value={f.ipDeny}
              error={denyError}
              onChange={(e) => set({ ipDeny: e.currentTarget.value })}
            />
          </Group>
          <Text size="sm" fw={500} id="rate-limit-label">
            Rate limit
          </Text>
          <SegmentedControl
            aria-labelledby="rate-limit-label"
            value={f.limitMode}
            onChange={(limitMode) => set({ limitMode })}
            data={[
              { value: 'none', label: 'None' },
              { value: 'tier', label: 'Tier' },
              { value: 'own', label: 'Own numbers' },
            ]}
          />
          {f.limitMode === 'tier' && (
            <TextInput
              label="Tier"
              description="a tier of routes.yaml, e.g. free"
              value={f.tier}
              onChange={(e) => set({ tier: e.currentTarget.value })}
            />
          )}
          {f.limitMode === 'own' && (
            <Group grow>
              <NumberInput
                label="Requests per minute"
                min={1}
                value={f.rpm}
                onChange={(rpm) => set({ rpm })}
              />
              <NumberInput label="Tokens per minute" min={1} value={f.tpm} onChange={(tpm) => set({ tpm })} />
              <NumberInput
                label="Requests in flight"
                description="at once, across every gateway"
                min={1}
                value={f.maxConcurrent}
                onChange={(maxConcurrent) => set({ maxConcurrent })}
              />
            </Group>
          )}
          <RouteLimitsEditor rows={f.routeLimits} onChange={(routeLimits) => set({ routeLimits })} />
          <Group grow>
            <BudgetFields
              amount={f.budget}
              period={f.budgetPeriod}
              onChange={(b) =>
                set({ budget: b.amount ?? f.budget, budgetPeriod: b.period ?? f.budgetPeriod })
              }
            />
            <NumberInput
              label="Rotation period (days)"
              min={1}
              max={3650}
              value={f.rotationPeriodDays}
              onChange={(rotationPeriodDays) => set({ rotationPeriodDays })}
            />
            <NumberInput
              label="Suspend after days unused"
              description="0 = never; empty = the deployment default"
              min={0}
              max={3650}
              value={f.dormantAfterDays}
              onChange={(dormantAfterDays) => set({ dormantAfterDays })}
            />
          </Group>
          <Textarea
            label="Metadata"
            description="key=value, one per line"
            value={f.metadata}
            onChange={(e) => set({ metadata: e.currentTarget.value })}
          />
          <ErrorText error={error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} disabled={!!allowError || !!denyError}>
              Create
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
};
