import { ActionIcon, Button, Group, NumberInput, Select, Stack, Text } from '@mantine/core';
import { useRoutes } from '../groups/groups.hooks';
import type { components } from '../api/key-service';

type RouteLimits = NonNullable<components['schemas']['RateLimitDto']['routes']>;

export interface RouteLimitRow {
  route: string | null;
  rpm: number | string;
  tpm: number | string;
}

// The rows as rateLimit.routes: rows without a route or without a number are left out; none left: undefined.
export const routeLimitsOf = (rows: RouteLimitRow[]): RouteLimits | undefined => {
  const entries = rows
    .filter((r) => r.route && (r.rpm !== '' || r.tpm !== ''))
    .map((r) => [
      r.route as string,
      {
        ...(r.rpm !== '' && { requestsPerMinute: Number(r.rpm) }),
        ...(r.tpm !== '' && { tokensPerMinute: Number(r.tpm) }),
      },
    ]);
  return entries.length ? Object.fromEntries(entries) : undefined;
};

// "gpt-4o: 10 req/min; gpt-4o-mini: 40000 tokens/min", or none.
export const routeLimitsText = (routes: RouteLimits | undefined): string =>
  Object.entries(routes ?? {})
    .map(
      ([route, l]) =>
        `${route}: ` +
        [
          l.requestsPerMinute && `${l.requestsPerMinute} req/min`,
          l.tokensPerMinute && `${l.tokensPerMinute} tokens/min`,
        ]
          .filter(Boolean)
          .join(', '),
    )
    .join('; ') || 'none';

const NUMBERS = [
  ['rpm', 'Requests per minute', 'requests/min'],
  ['tpm', 'Tokens per minute', 'tokens/min'],
] as const;

// A limit per route, on top of the key's own: route + requests/min + tokens/min, one row each (at most 50).
export const RouteLimitsEditor = ({
  rows,
  onChange,
}: {
  rows: RouteLimitRow[];
  onChange: (rows: RouteLimitRow[]) => void;
}) => {
  const routes = (useRoutes().data?.data ?? []).map((r) => r.name);
  const update = (i: number, patch: Partial<RouteLimitRow>) =>
    onChange(rows.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <Stack gap={4} role="group" aria-labelledby="route-limits-label">
      <Text size="sm" fw={500} id="route-limits-label">
        Route limits
      </Text>
      {rows.map((r, i) => {
        const name = r.route ?? `row ${i + 1}`;
        return (
          <Group key={i} align="flex-end" grow>
            <Select
              aria-label={`Route of limit ${i + 1}`}
              placeholder="route"
              searchable
              data={routes.filter((x) => x === r.route || !rows.some((o) => o.route === x))}
              value={r.route}
              onChange={(route) => update(i, { route })}
            />
            {NUMBERS.map(([field, label, placeholder]) => (
              <NumberInput
                key={field}
                aria-label={`${label} on ${name}`}
                placeholder={placeholder}
                min={1}
                value={r[field]}
                onChange={(value) => update(i, { [field]: value })}
              />
            ))}
            <ActionIcon
              variant="subtle"
              color="red"
              style={{ flexGrow: 0 }}
              aria-label={`Remove the limit on ${name}`}
              onClick={() => onChange(rows.filter((_, j) => j !== i))}
            >
              ×
            </ActionIcon>
          </Group>
        );
      })}
      {rows.length < 50 && (
        <Group>
          <Button
            size="xs"
            variant="default"
            onClick={() => onChange([...rows, { route: null, rpm: '', tpm: '' }])}
          >
            Add route limit
          </Button>
        </Group>
      )}
    </Stack>
  );
};
