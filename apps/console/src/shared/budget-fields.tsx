import { Select, TextInput } from '@mantine/core';
import type { components } from '../api/key-service';

// A spend limit, as keys and groups both take it (the key-service validates the amount).
export type Budget = components['schemas']['BudgetDto'];
type Period = Budget['period'];

export const budgetText = (b: Budget | null | undefined): string =>
  b ? `$${b.amountUsd} per ${b.period}` : 'none';

// The body's budget: none when no amount was typed.
export const budgetOf = (amount: string, period: Period): Budget | null =>
  amount.trim() ? { amountUsd: amount.trim(), period } : null;

// "Budget (USD)" and "Budget period", for a Group of fields.
export const BudgetFields = ({
  amount,
  period,
  onChange,
}: {
  amount: string;
  period: Period;
  onChange: (patch: { amount?: string; period?: Period }) => void;
}) => (
  <>
    <TextInput
      label="Budget (USD)"
      placeholder="25.00"
      value={amount}
      onChange={(e) => onChange({ amount: e.currentTarget.value })}
    />
    <Select
      label="Budget period"
      data={['day', 'week', 'month']}
      value={period}
      onChange={(v) => onChange({ period: (v ?? 'month') as Period })}
      allowDeselect={false}
    />
  </>
);
