import { Readable } from 'node:stream';
import { Controller, Get, Query, Res } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { stringify } from 'csv-stringify';
import type { FastifyReply } from 'fastify';
import type { DataSource } from 'typeorm';
import { GranularQuery, normalizeDecimal, range } from './usage-query';

class ExportQuery extends GranularQuery {
  @IsOptional() @IsString() @MaxLength(64) keyId?: string;
}

const COLUMNS = [
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

// The aggregates as CSV, streamed: a server-side cursor is read FETCH rows at a time while the client reads, so an
// export of any size holds a bounded amount of memory. Money stays an exact decimal string. Cells starting with
// = + - @ tab or CR (admin-chosen key names, owners) are prefixed with ' so a spreadsheet shows them as text
// (OWASP CSV injection).
@Controller('v1/usage')
export class ExportController {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  @Get('export.csv')
  async export(@Query() q: ExportQuery, @Res() reply: FastifyReply): Promise<void> {
    const { from, to } = range(q);
    const rows = this.rows(
      `SELECT date_trunc($1, m.bucket, 'UTC') AS period_start, m.key_id, d.name AS key_name, d.owner_id,
              m.route, m.provider, m.upstream_model AS model, sum(m.requests) AS requests, sum(m.errors) AS errors,
              sum(m.prompt_tokens) AS prompt_tokens, sum(m.completion_tokens) AS completion_tokens,
              sum(m.cost_usd) AS cost_usd
       FROM usage_minute m LEFT JOIN key_directory d ON d.key_id = m.key_id
       WHERE m.bucket >= $2 AND m.bucket < $3 AND ($4::text IS NULL OR m.key_id = $4)
       GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 5, 6, 7`,
      [q.granularity ?? 'hour', from, to, q.keyId ?? null],
    );
    const csv = Readable.from(rows).pipe(
      stringify({ header: true, columns: COLUMNS, escape_formulas: true }),
    );
    void reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header(
        'content-disposition',
        `attachment; filename="keygate-usage-${from.toISOString().slice(0, 10)}.csv"`,
      )
      .send(csv);
  }

  private async *rows(sql: string, params: unknown[]): AsyncGenerator<Record<string, string>> {
    const runner = this.db.createQueryRunner();
    await runner.connect();
    try {
      await runner.startTransaction();
      await runner.query(`DECLARE usage_export NO SCROLL CURSOR FOR ${sql}`, params);
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
