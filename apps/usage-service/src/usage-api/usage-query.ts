import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsDateString, IsIn, IsOptional } from 'class-validator';
import { UsageError } from '../usage-errors';

export type Granularity = 'minute' | 'hour' | 'day';

export class UsageRangeQuery {
  @ApiPropertyOptional({ format: 'date-time', description: 'default: 30 days before `to`' })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;
  @ApiPropertyOptional({ format: 'date-time', description: 'default: a minute from now' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;
}

export class GranularQuery extends UsageRangeQuery {
  @ApiPropertyOptional({ enum: ['minute', 'hour', 'day'], default: 'hour' })
  @IsOptional()
  @IsIn(['minute', 'hour', 'day'])
  granularity?: Granularity;
}

const MAX_MINUTE_RANGE_MS = 31 * 86_400_000;

// Defaults: the last 30 days up to a minute from now (so the bucket in progress is included).
export const range = (q: UsageRangeQuery & { granularity?: Granularity }): { from: Date; to: Date } => {
  const to = q.to ? new Date(q.to) : new Date(Date.now() + 60_000);
  const from = q.from ? new Date(q.from) : new Date(to.getTime() - 30 * 86_400_000);
  if (from >= to) throw new UsageError('VALIDATION_FAILED', 'from must be before to');
  if (q.granularity === 'minute' && to.getTime() - from.getTime() > MAX_MINUTE_RANGE_MS)
    throw new UsageError('VALIDATION_FAILED', 'minute granularity covers at most 31 days: narrow from/to');
  return { from, to };
};

// numeric comes back as a string: keep it exact, trim trailing zeros.
export const normalizeDecimal = (s: string | null): string =>
  s === null ? '0' : (s.includes('.') ? s.replace(/\.?0+$/, '') : s) || '0';
