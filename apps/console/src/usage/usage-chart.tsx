import { AreaChart } from '@mantine/charts';
import { Group, SegmentedControl, Stack, Text } from '@mantine/core';
import { useState } from 'react';
import { useUsageSeries, type RangeName } from './usage.hooks';

// Requests, tokens and cost over a selectable range; of one key when keyId is given.
export const UsageChart = ({ keyId, title }: { keyId?: string; title: string }) => {
  const [range, setRange] = useState<RangeName>('24h');
  const series = useUsageSeries(range, keyId);
  const data = series.data ?? [];
  return (
    <Stack gap="xs">
      <Group justify="space-between">
        <Text fw={600} id={`chart-${keyId ?? 'all'}`}>
          {title}
        </Text>
        <SegmentedControl
          size="xs"
          aria-label="Range"
          value={range}
          onChange={(v) => setRange(v as RangeName)}
          data={['24h', '7d', '30d']}
        />
      </Group>
      {data.length === 0 ? (
        <Text c="dimmed" size="sm">
          {series.isPending ? 'Loading…' : 'No traffic in this range.'}
        </Text>
      ) : (
        <div
          role="img"
          aria-labelledby={`chart-${keyId ?? 'all'}`}
          data-testid="usage-chart"
          data-points={data.length}
        >
          <AreaChart
            h={220}
            data={data}
            dataKey="time"
            withRightYAxis
            series={[
              { name: 'requests', color: 'blue.6' },
              { name: 'tokens', color: 'teal.6', yAxisId: 'right' },
            ]}
          />
          <AreaChart
            h={140}
            data={data}
            dataKey="time"
            series={[{ name: 'cost', color: 'orange.6', label: 'cost (USD)' }]}
          />
        </div>
      )}
    </Stack>
  );
};
