import { InvalidArgumentError } from 'commander';

// Option value parsers: a bad value is a usage error (exit 2) before anything is sent.

export const intArg =
  (min: number, max: number) =>
  (value: string): number => {
    if (!/^\d{1,10}$/.test(value) || Number(value) < min || Number(value) > max)
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`);
    return Number(value);
  };

// The key's own numbers and its per-route ones take the same ranges (the API's).
export const rpmArg = intArg(1, 10_000_000);
export const tpmArg = intArg(1, 1_000_000_000);

export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const DAY_MS = 86_400_000;

// An instant: ISO date (midnight UTC) or date-time, or N days from `now` (sign +1 ahead, -1 ago).
const instant = (value: string, now: number, sign: 1 | -1): string | null => {
  const days = /^(\d{1,5})d$/.exec(value);
  if (days) return new Date(now + sign * Number(days[1]) * DAY_MS).toISOString();
  if (!/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) return null;
  // A date or a date-time without a zone is read as UTC, so the result does not depend on the machine's zone.
  const zoned = /T|\s/.test(value) && !/(Z|[+-]\d{2}:?\d{2})$/.test(value) ? `${value}Z` : value;
  const t = Date.parse(zoned.replace(' ', 'T'));
  return Number.isNaN(t) ? null : new Date(t).toISOString();
};

// Commander stores '' when a parser returns null, so "clear this" stays a word until the request body is built.
export type Clearable<T> = T | 'none';
export const orNull = <T>(v: Clearable<T> | undefined): T | null | undefined => (v === 'none' ? null : v);

// --expires: a date, a date-time, "30d" (from now) or "never" (kept as 'none').
export const expiresArg =
  (now: () => number = Date.now) =>
  (value: string): Clearable<string> => {
    if (value === 'never') return 'none';
    const at = instant(value, now(), 1);
    if (!at)
      throw new InvalidArgumentError('expected YYYY-MM-DD, an ISO date-time, Nd (days from now) or never');
    return at;
  };

// --expiring-before: a date, a date-time or "30d" (from now).
export const futureArg =
  (now: () => number = Date.now) =>
  (value: string): string => {
    const at = instant(value, now(), 1);
    if (!at) throw new InvalidArgumentError('expected YYYY-MM-DD, an ISO date-time or Nd (days from now)');
    return at;
  };

// --from/--to/--since/--at: a date, a date-time or "7d" (days ago).
export const pastArg =
  (now: () => number = Date.now) =>
  (value: string): string => {
    const at = instant(value, now(), -1);
    if (!at) throw new InvalidArgumentError('expected YYYY-MM-DD, an ISO date-time or Nd (days ago)');
    return at;
  };

export interface Budget {
  amountUsd: string;
  period: 'day' | 'week' | 'month';
}

export const BUDGET_PERIODS = ['day', 'week', 'month'] as const;
// USD as the API takes it: a decimal with at most 6 places, an optional leading $.
const USD = /\$?(\d{1,9}(?:\.\d{1,6})?)/.source;

// --budget 25/month, 0.50/day, $100/week; "none" removes it.
export const budgetArg = (value: string): Clearable<Budget> => {
  if (value === 'none') return 'none';
  const m = new RegExp(`^${USD}/(${BUDGET_PERIODS.join('|')})$`).exec(value);
  if (!m) throw new InvalidArgumentError('expected USD/day|week|month, e.g. 25/month or 0.50/day, or none');
  return { amountUsd: m[1], period: m[2] as Budget['period'] };
};

// --budget-usd 250, $0.50.
export const usdArg = (value: string): string => {
  const m = new RegExp(`^${USD}$`).exec(value);
  if (!m)
    throw new InvalidArgumentError('expected a USD amount, e.g. 250 or 0.50 (at most 6 decimal places)');
  return m[1];
};

export interface RouteLimit {
  requestsPerMinute?: number;
  tokensPerMinute?: number;
}

// --route-limit gpt-4o=10 (requests/min), gpt-4o=10/40000 (and tokens/min), gpt-4o=/40000 (tokens only);
// repeatable. "none" alone: no per-route limit (keys update).
export const routeLimitArg = (
  value: string,
  previous: Record<string, RouteLimit> = {},
): Record<string, RouteLimit> => {
  if (value === 'none') return {};
  const m = /^([^=]{1,128})=(\d{1,10})?(?:\/(\d{1,10}))?$/.exec(value);
  if (!m || (m[2] === undefined && m[3] === undefined))
    throw new InvalidArgumentError(
      'expected <route>=<requests/min>[/<tokens/min>], e.g. gpt-4o=10 or gpt-4o=10/40000',
    );
  const limit: RouteLimit = {
    ...(m[2] !== undefined && { requestsPerMinute: rpmArg(m[2]) }),
    ...(m[3] !== undefined && { tokensPerMinute: tpmArg(m[3]) }),
  };
  return { ...previous, [m[1]]: limit };
};

// --rotation-days N or none.
export const rotationDaysArg = (value: string): Clearable<number> =>
  value === 'none' ? 'none' : intArg(1, 3650)(value);

// --dormant-days N, never (0: not suspended for disuse) or default (null: the deployment's KEY_DORMANT_AFTER_DAYS).
export const dormantDaysArg = (value: string): Clearable<number> =>
  value === 'default' ? 'none' : value === 'never' ? 0 : intArg(1, 3650)(value);

// --metadata key=value, repeatable.
export const metadataArg = (value: string, previous: Record<string, string> = {}): Record<string, string> => {
  const m = /^([^=]{1,64})=(.{0,1024})$/s.exec(value);
  if (!m) throw new InvalidArgumentError('expected key=value');
  return { ...previous, [m[1]]: m[2] };
};

export const oneOf =
  <T extends string>(values: readonly T[]) =>
  (value: string): T => {
    if (!(values as readonly string[]).includes(value))
      throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return value as T;
  };

// A list option where "none" alone means "empty the list" (--ip-allow none).
export const listOrNone = (values: string[] | undefined): string[] | undefined =>
  values === undefined ? undefined : values.length === 1 && values[0] === 'none' ? [] : values;
