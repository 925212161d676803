import { budgetPeriod, budgetReason, reachedThresholds, spentPercent, thresholdAlert } from './budget-period';

const at = (iso: string) => Date.parse(iso);
const span = (p: { start: Date; end: Date }) => [p.start.toISOString(), p.end.toISOString()];

describe('budget periods (UTC calendar)', () => {
  it('a day runs midnight to midnight UTC', () => {
    expect(span(budgetPeriod('day', at('2025-03-10T23:59:59.999Z')))).toEqual([
      '2025-03-10T00:00:00.000Z',
      '2025-03-11T00:00:00.000Z',
    ]);
  });

  it('a week runs from Monday, across month and year ends', () => {
    expect(span(budgetPeriod('week', at('2025-03-16T12:00:00Z')))).toEqual([
      '2025-03-10T00:00:00.000Z',
      '2025-03-17T00:00:00.000Z',
    ]);
    expect(span(budgetPeriod('week', at('2025-03-17T00:00:00Z')))[0]).toBe('2025-03-17T00:00:00.000Z');
    expect(span(budgetPeriod('week', at('2025-01-01T08:00:00Z')))).toEqual([
      '2024-12-30T00:00:00.000Z',
      '2025-01-06T00:00:00.000Z',
    ]);
  });

  it('a month runs from the 1st, leap February included', () => {
    expect(span(budgetPeriod('month', at('2024-02-29T10:00:00Z')))).toEqual([
      '2024-02-01T00:00:00.000Z',
      '2024-03-01T00:00:00.000Z',
    ]);
    expect(span(budgetPeriod('month', at('2024-12-31T23:00:00Z')))[1]).toBe('2025-01-01T00:00:00.000Z');
  });
});

describe('budget thresholds', () => {
  it('reaches 50/80/100% exactly, in decimals', () => {
    expect(reachedThresholds('0.049999999999', '0.1')).toEqual([]);
    expect(reachedThresholds('0.05', '0.1')).toEqual([50]);
    expect(reachedThresholds('0.079999999999', '0.1')).toEqual([50]);
    expect(reachedThresholds('0.08', '0.1')).toEqual([50, 80]);
    expect(reachedThresholds('0.1', '0.1')).toEqual([50, 80, 100]);
    expect(reachedThresholds('7.3', '0.1')).toEqual([50, 80, 100]);
    expect(reachedThresholds('0', '0')).toEqual([50, 80, 100]);
  });

  it('describes the spend and builds a short, exact suspension reason', () => {
    expect(spentPercent('0.0831', '0.1')).toBe('83.1');
    const p = budgetPeriod('day', at('2025-03-10T12:00:00Z'));
    expect(budgetReason('0.100000412', '0.1', 'day', p)).toBe(
      'budget exceeded: 0.100001 of 0.1 USD spent in the day from 2025-03-10T00:00:00.000Z',
    );
  });

  it('builds one budget_threshold alert per threshold, for a key or a group, deduplicated per period and amount', () => {
    const p = budgetPeriod('month', at('2025-03-10T12:00:00Z'));
    const standing = { amountUsd: '2', spentUsd: '1.700000000000', period: 'month' as const, p };
    expect(thresholdAlert({ ...standing, subject: 'key_1', keyId: 'key_1', who: 'key key_1' }, 80)).toEqual({
      type: 'budget_threshold',
      keyId: 'key_1',
      subject: 'key_1',
      severity: 'warning',
      message: 'key key_1 reached 80% of its monthly budget: 1.7 of 2 USD (85%)',
      details: {
        threshold: 80,
        spentUsd: '1.7',
        budgetUsd: '2',
        period: 'month',
        periodStart: '2025-03-01T00:00:00.000Z',
        periodEnd: '2025-04-01T00:00:00.000Z',
      },
      dedupeKey: 'budget_threshold:key_1:2025-03-01T00:00:00.000Z:2:80',
      dedupeSeconds: null,
    });
    const group = thresholdAlert(
      {
        ...standing,
        subject: 'grp:grp_a',
        keyId: null,
        who: 'group apps (grp_a)',
        details: { groupId: 'grp_a', groupName: 'apps' },
      },
      50,
    );
    expect(group).toMatchObject({
      keyId: null,
      subject: 'grp:grp_a',
      severity: 'info',
      message: 'group apps (grp_a) reached 50% of its monthly budget: 1.7 of 2 USD (85%)',
      details: { threshold: 50, groupId: 'grp_a', groupName: 'apps', spentUsd: '1.7', budgetUsd: '2' },
      dedupeKey: 'budget_threshold:grp:grp_a:2025-03-01T00:00:00.000Z:2:50',
    });
  });
});
