import { Group, NumberInput, Select, TextInput } from '@mantine/core';
import {
  pathsV1KeysGetParametersQueryEnvironmentValues as ENVIRONMENTS,
  pathsV1KeysGetParametersQueryStateValues as STATES,
} from '../api/key-service';
import { useGroups } from '../groups/groups.hooks';
import type { KeyFilters } from './keys.hooks';

export const KeyFiltersBar = ({
  filters,
  onChange,
}: {
  filters: KeyFilters;
  onChange: (f: KeyFilters) => void;
}) => {
  const groups = useGroups().data?.data ?? [];
  const set = (patch: Partial<KeyFilters>) => onChange({ ...filters, ...patch });
  return (
    <Group align="flex-end" gap="sm">
      <TextInput
        label="Search"
        placeholder="name, description or id"
        value={filters.search}
        onChange={(e) => set({ search: e.currentTarget.value })}
      />
      <Select
        label="State"
        clearable
        data={[...STATES]}
        value={filters.state}
        onChange={(state) => set({ state: state as KeyFilters['state'] })}
        w={130}
      />
      <Select
        label="Group"
        clearable
        searchable
        data={groups.map((g) => ({ value: g.id, label: g.name }))}
        value={filters.groupId}
        onChange={(groupId) => set({ groupId })}
        w={170}
      />
      <TextInput
        label="Owner"
        value={filters.ownerId}
        onChange={(e) => set({ ownerId: e.currentTarget.value })}
        w={130}
      />
      <Select
        label="Environment"
        clearable
        data={[...ENVIRONMENTS]}
        value={filters.environment}
        onChange={(environment) => set({ environment: environment as KeyFilters['environment'] })}
        w={120}
      />
      <NumberInput
        label="Unused for days"
        min={1}
        max={3650}
        value={filters.unusedDays ?? ''}
        onChange={(v) => set({ unusedDays: typeof v === 'number' ? v : null })}
        w={130}
      />
      <TextInput
        label="Expiring before"
        type="date"
        value={filters.expiringBefore}
        onChange={(e) => set({ expiringBefore: e.currentTarget.value })}
        w={150}
      />
    </Group>
  );
};
