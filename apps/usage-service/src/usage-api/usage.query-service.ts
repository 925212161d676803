import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type Granularity, normalizeDecimal } from './usage-query';

export const GROUP_BY = ['key', 'owner', 'route', 'model', 'provider', 'group'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface UsageRange {
  from: Date;
  to: Date;
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

export const EXPORT_COLUMNS = [
  'period_start',
  'key_id',
  'key_name',
  'owner_id',
  'route',
  'provider',
  'model',
  'requests',
  'errors',
  'prompt_tokens',
  'completion_tokens',
  'cost_usd',
];

interface ExportRow {
  period_start: Date;
  key_id: string;
  key_name: string | null;
  owner_id: string | null;
  route: string;
  provider: string;
  model: string;
  requests: string;
  errors: string;
  prompt_tokens: string;
  completion_tokens: string;
  cost_usd: string;
}

const FETCH = 2000;

// The usage ledger's aggregates (usage_minute), read for the usage API: series, summaries and the CSV export.
@Injectable()
export class UsageQueryService {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  // One bucket per granularity step, every key together or one key.
  async series({ from, to }: UsageRange, granularity: Granularity, keyId?: string) {
    const rows: (Totals & { start: Date })[] = await this.db.query(
      `WITH per_code AS (
         SELECT date_trunc($1, bucket, 'UTC') AS start, error_code, ${SUMS}
         FROM usage_minute WHERE bucket >= $2 AND bucket < $3 ${keyId ? 'AND key_id = $4' : ''} GROUP BY 1, 2
       )
       SELECT start, ${FOLD} FROM per_code GROUP BY start ORDER BY start`,
      [granularity, from, to, ...(keyId ? [keyId] : [])],
    );
    return { data: rows.map((r) => ({ start: r.start.toISOString(), ...totals(r) })) };
  }

  async request(requestId: string) {
    if (requestId.length > 64) return null;
    const [r]: {
      request_id: string;
      key_id: string | null;
      time: Date;
      endpoint: string;
      route: string | null;
      provider: string | null;
      upstream_model: string | null;
      status: number;
      outcome: string;
      error_code: string | null;
      prompt_tokens: number;
      completion_tokens: number;
      streamed: boolean;
      latency_ms: number;
      client_ip: string | null;
      cost_usd: string;
    }[] = await this.db.query(`SELECT * FROM usage_requests WHERE request_id = $1 LIMIT 1`, [requestId]);
    if (!r) return null;
    const time = r.time.toISOString();
    // The ledger's time is when the answer ended; the key was checked when the request arrived.
    const admittedAt = new Date(r.time.getTime() - r.latency_ms).toISOString();
    return {
      requestId: r.request_id,
      keyId: r.key_id,
      time,
      endpoint: r.endpoint,
      route: r.route,
      provider: r.provider,
      model: r.upstream_model,
      status: r.status,
      outcome: r.outcome,
      errorCode: r.error_code,
      promptTokens: r.prompt_tokens,
      completionTokens: r.completion_tokens,
      streamed: r.streamed,
      latencyMs: r.latency_ms,
      clientIp: r.client_ip,
      costUsd: normalizeDecimal(r.cost_usd),
      keyAsOf: r.key_id
        ? `/v1/keys/${encodeURIComponent(r.key_id)}?at=${encodeURIComponent(admittedAt)}`
        : null,
    };
  }

  async summary({ from, to }: UsageRange, groupBy: GroupBy) {
    const d = DIMENSIONS[groupBy];
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

  // The export's rows (EXPORT_COLUMNS), streamed: a server-side cursor is read FETCH rows at a time while the
  // client reads, so an export of any size holds a bounded amount of memory. Money stays an exact decimal string.
  async *exportRows(
    { from, to }: UsageRange,
    granularity: Granularity,
    keyId?: string,
  ): AsyncGenerator<Record<string, string>> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(
        `DECLARE usage_export NO SCROLL CURSOR FOR
         SELECT date_trunc($1, m.bucket, 'UTC') AS period_start, m.key_id, d.name AS key_name, d.owner_id,
                m.route, m.provider, m.upstream_model AS model, sum(m.requests) AS requests, sum(m.errors) AS errors,
                sum(m.prompt_tokens) AS prompt_tokens, sum(m.completion_tokens) AS completion_tokens,
                sum(m.cost_usd) AS cost_usd
         FROM usage_minute m LEFT JOIN key_directory d ON d.key_id = m.key_id
         WHERE m.bucket >= $2 AND m.bucket < $3 AND ($4::text IS NULL OR m.key_id = $4)
         GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 5, 6, 7`,
        [granularity, from, to, keyId ?? null],
      );
      for (;;) {
        const batch: ExportRow[] = await runner.query(`FETCH ${FETCH} FROM usage_export`);
        for (const r of batch)
          yield {
            period_start: r.period_start.toISOString(),
            key_id: r.key_id,
            key_name: r.key_name ?? '',
            owner_id: r.owner_id ?? '',
            route: r.route,
            provider: r.provider,
            model: r.model,
            requests: r.requests,
            errors: r.errors,
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cost_usd: normalizeDecimal(r.cost_usd),
          };
        if (batch.length < FETCH) break;
      }
      await runner.commitTransaction();
    } finally {
      // Also reached when the client goes away mid-stream (the generator is returned early).
      if (runner.isTransactionActive) await runner.rollbackTransaction().catch(() => undefined);
      await runner.release();
    }
  }
}
