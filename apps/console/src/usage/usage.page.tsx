import { BarChart } from '@mantine/charts';
import { Button, Group, Paper, SegmentedControl, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { errorText } from '../api/clients';
import { useConsoleConfig } from '../api/config';
import { currentToken } from '../api/session';
import { download, usd } from '../shared/format';
import { RequestLookup } from './request-lookup';
import { UsageChart } from './usage-chart';
import { RANGES, useUsageSummary, type Dimension, type RangeName } from './usage.hooks';
import { ErrorText } from '../shared/error-text';

const LABEL_FIELD: Record<Dimension, 'name' | 'ownerId' | 'route' | 'model' | 'provider' | 'groupId'> = {
  key: 'name',
  owner: 'ownerId',
  route: 'route',
  model: 'model',
  provider: 'provider',
  group: 'name',
};

const Breakdown = ({ range, by, title }: { range: RangeName; by: Dimension; title: string }) => {
  const summary = useUsageSummary(range, by);
  const data = (summary.data?.data ?? []).slice(0, 10).map((r) => ({
    label: String(r[LABEL_FIELD[by]] ?? r.keyId ?? '(none)'),
    cost: Number(r.costUsd),
    requests: r.requests,
  }));
  return (
    <Paper withBorder p="sm">
      <Text fw={600} id={`by-${by}`}>
        {title}
      </Text>
      {data.length === 0 ? (
        <Text c="dimmed" size="sm">
          No traffic in this range.
        </Text>
      ) : (
        <div role="img" aria-labelledby={`by-${by}`}>
          <BarChart
            h={200}
            data={data}
            dataKey="label"
            series={[{ name: 'cost', color: 'orange.6', label: 'cost (USD)' }]}
          />
        </div>
      )}
    </Paper>
  );
};

export const UsagePage = () => {
  const [range, setRange] = useState<RangeName>('24h');
  const totals = useUsageSummary(range, 'key');
  const usageUrl = useConsoleConfig().data?.usageServiceUrl;
  const [exportError, setExportError] = useState<string | null>(null);
  const sum = (totals.data?.data ?? []).reduce(
    (t, r) => ({
      requests: t.requests + r.requests,
      errors: t.errors + r.errors,
      tokens: t.tokens + r.promptTokens + r.completionTokens,
      cost: t.cost + Number(r.costUsd),
    }),
    { requests: 0, errors: 0, tokens: 0, cost: 0 },
  );
  // The export streams CSV: fetched with the bearer token, then handed to the browser as a download.
  const exportCsv = async () => {
    setExportError(null);
    const from = new Date(Date.now() - RANGES[range].ms).toISOString();
    const res = await fetch(`${usageUrl}/v1/usage/export.csv?from=${encodeURIComponent(from)}`, {
      headers: { authorization: `Bearer ${currentToken()}` },
    }).catch((e: unknown) => e as Error);
    if (res instanceof Error || !res.ok)
      return setExportError(res instanceof Error ? errorText(res) : `HTTP ${res.status}`);
    download(`keygate-usage-${range}.csv`, await res.text(), 'text/csv');
  };
  const stat = (label: string, value: string) => (
    <Paper withBorder p="sm">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={700} size="xl">
        {value}
      </Text>
    </Paper>
  );
  return (
    <Stack>
      <Group justify="space-between">
        <SegmentedControl
          aria-label="Range"
          value={range}
          onChange={(v) => setRange(v as RangeName)}
          data={['24h', '7d', '30d']}
        />
        <Button variant="default" onClick={exportCsv}>
          Export CSV
        </Button>
      </Group>
      <ErrorText error={exportError} />
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        {stat('Requests', String(sum.requests))}
        {stat('Errors', String(sum.errors))}
        {stat('Tokens', String(sum.tokens))}
        {stat('Cost', usd(String(sum.cost)))}
      </SimpleGrid>
      <RequestLookup />
      <Paper withBorder p="sm">
        <UsageChart title="Requests, tokens and cost over time" />
      </Paper>
      <Title order={2} size="h4">
        Breakdown
      </Title>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Breakdown range={range} by="key" title="Top keys by cost" />
        <Breakdown range={range} by="owner" title="Cost by owner" />
        <Breakdown range={range} by="route" title="Cost by route" />
        <Breakdown range={range} by="model" title="Cost by model" />
        <Breakdown range={range} by="provider" title="Cost by provider" />
      </SimpleGrid>
    </Stack>
  );
};
