import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsIn, IsOptional } from 'class-validator';
import type { DataSource } from 'typeorm';
import { GranularQuery, normalizeDecimal, range, UsageRangeQuery } from './usage-query';
import { UsageSeriesDto, UsageSummaryDto } from './usage.resource';

const GROUP_BY = ['key', 'owner', 'route', 'model', 'provider', 'group'] as const;
type GroupBy = (typeof GROUP_BY)[number];

class SummaryQuery extends UsageRangeQuery {
  @ApiPropertyOptional({ enum: GROUP_BY, default: 'key' })
  @IsOptional()
  @IsIn(GROUP_BY)
  groupBy?: GroupBy;
}

interface Totals {
  requests: string;
  errors: string;
  prompt_tokens: string;
  completion_tokens: string;
  cost_usd: string;
  errors_by_code: Record<string, string>;
}

const totals = (r: Totals) => ({
  requests: Number(r.requests),
  errors: Number(r.errors),
  errorsByCode: Object.fromEntries(Object.entries(r.errors_by_code).map(([k, v]) => [k, Number(v)])),
  promptTokens: Number(r.prompt_tokens),
  completionTokens: Number(r.completion_tokens),
  costUsd: normalizeDecimal(r.cost_usd),
});

// Per dimension: the SQL expression grouped by, extra labels, and the response field that names it. Key names,
// owners and groups come from the key directory (keys.events); a key in two groups counts in both.
const DIMENSIONS: Record<GroupBy, { dim: string; label: string; join: string; field: string }> = {
  key: {
    dim: 'm.key_id',
    label: `jsonb_build_object('name', d.name, 'ownerId', d.owner_id)`,
    join: 'LEFT JOIN key_directory d ON d.key_id = m.key_id',
    field: 'keyId',
  },
  owner: {
    dim: 'd.owner_id',
    label: `'{}'::jsonb`,
    join: 'LEFT JOIN key_directory d ON d.key_id = m.key_id',
    field: 'ownerId',
  },
  route: { dim: `nullif(m.route, '')`, label: `'{}'::jsonb`, join: '', field: 'route' },
  model: { dim: `nullif(m.upstream_model, '')`, label: `'{}'::jsonb`, join: '', field: 'model' },
  provider: { dim: `nullif(m.provider, '')`, label: `'{}'::jsonb`, join: '', field: 'provider' },
  group: {
    dim: 'g.group_id',
    label: `jsonb_build_object('name', gd.name)`,
    join: `LEFT JOIN key_directory d ON d.key_id = m.key_id
           LEFT JOIN LATERAL unnest(CASE WHEN cardinality(d.group_ids) > 0 THEN d.group_ids ELSE ARRAY[NULL::text] END)
             AS g(group_id) ON true
           LEFT JOIN group_directory gd ON gd.group_id = g.group_id`,
    field: 'groupId',
  },
};

// Errors by code are counted per (bucket | dimension, code) first, then folded into one JSON object per row.
const SUMS = `sum(requests) AS requests, sum(errors) AS errors, sum(prompt_tokens) AS prompt_tokens,
  sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd`;
const FOLD = `sum(requests) AS requests, sum(errors) AS errors, sum(prompt_tokens) AS prompt_tokens,
  sum(completion_tokens) AS completion_tokens, sum(cost_usd) AS cost_usd,
  coalesce(jsonb_object_agg(error_code, requests) FILTER (WHERE error_code <> ''), '{}') AS errors_by_code`;

@ApiTags('usage')
@ApiBearerAuth()
@Controller('v1/usage')
export class UsageController {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  @Get('keys/:keyId')
  @ApiOkResponse({ type: UsageSeriesDto })
  byKey(@Param('keyId') keyId: string, @Query() q: GranularQuery) {
    return this.series(q, keyId);
  }

  // Every key together: the console's "cost and requests over time".
  @Get('timeseries')
  @ApiOkResponse({ type: UsageSeriesDto })
  timeseries(@Query() q: GranularQuery) {
    return this.series(q);
  }

  private async series(q: GranularQuery, keyId?: string) {
    const { from, to } = range(q);
    const rows: (Totals & { start: Date })[] = await this.db.query(
      `WITH per_code AS (
         SELECT date_trunc($1, bucket, 'UTC') AS start, error_code, ${SUMS}
         FROM usage_minute WHERE bucket >= $2 AND bucket < $3 ${keyId ? 'AND key_id = $4' : ''} GROUP BY 1, 2
       )
       SELECT start, ${FOLD} FROM per_code GROUP BY start ORDER BY start`,
      [q.granularity ?? 'hour', from, to, ...(keyId ? [keyId] : [])],
    );
    return { data: rows.map((r) => ({ start: r.start.toISOString(), ...totals(r) })) };
  }

  @Get('summary')
  @ApiOkResponse({ type: UsageSummaryDto })
  async summary(@Query() q: SummaryQuery) {
    const { from, to } = range(q);
    const d = DIMENSIONS[q.groupBy ?? 'key'];
    const rows: (Totals & { dim: string | null; label: Record<string, string | null> })[] =
      await this.db.query(
        `WITH per_code AS (
         SELECT ${d.dim} AS dim, ${d.label} AS label, m.error_code, ${SUMS}
         FROM usage_minute m ${d.join} WHERE m.bucket >= $1 AND m.bucket < $2 GROUP BY 1, 2, 3
       )
       SELECT dim, label, ${FOLD} FROM per_code GROUP BY dim, label ORDER BY sum(cost_usd) DESC, dim`,
        [from, to],
      );
    return {
      data: rows.map((r) => ({ [d.field]: r.dim, ...r.label, ...totals(r) })),
      nextCursor: null,
      from: from.toISOString(),
      to: to.toISOString(),
    };
  }
}
