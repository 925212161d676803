import {
  addDays,
  admission,
  expiredPartitions,
  partitionDay,
  partitionName,
  retentionCutoffDay,
  utcDay,
} from './retention';

describe('raw-row retention', () => {
  const now = Date.parse('2025-03-10T13:45:00Z');

  it('works in UTC calendar days', () => {
    expect(utcDay(Date.parse('2025-03-10T23:59:59.999Z'))).toBe('2025-03-10');
    expect(addDays('2025-03-01', -1)).toBe('2025-02-28');
    expect(addDays('2024-12-31', 1)).toBe('2025-01-01');
    expect(retentionCutoffDay(now, 30)).toBe('2025-02-08');
  });

  it('admits events inside the window and a day into the future, refuses the rest', () => {
    expect(admission(Date.parse('2025-02-08T00:00:00Z'), now, 30)).toBe('ok');
    expect(admission(Date.parse('2025-02-07T23:59:59.999Z'), now, 30)).toBe('too_old');
    expect(admission(now + 3_600_000, now, 30)).toBe('ok');
    expect(admission(now + 2 * 86_400_000, now, 30)).toBe('future');
  });

  it('names partitions by day and drops only whole days before the cutoff', () => {
    expect(partitionName('2025-02-08')).toBe('usage_requests_p20250208');
    expect(partitionDay('usage_requests_p20250208')).toBe('2025-02-08');
    expect(partitionDay('usage_requests_default')).toBeNull();
    const names = ['usage_requests_p20250206', 'usage_requests_p20250207', 'usage_requests_p20250208'];
    expect(expiredPartitions(names, now, 30)).toEqual([
      'usage_requests_p20250206',
      'usage_requests_p20250207',
    ]);
  });
});
