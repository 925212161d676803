import { Readable } from 'node:stream';
import { Controller, Get, Query, Res } from '@nestjs/common';
import { IsOptional, IsString, MaxLength } from 'class-validator';
import { stringify } from 'csv-stringify';
import type { FastifyReply } from 'fastify';
import { GranularQuery, range } from './usage-query';
import { EXPORT_COLUMNS, UsageQueryService } from './usage.query-service';

class ExportQuery extends GranularQuery {
  @IsOptional() @IsString() @MaxLength(64) keyId?: string;
}

// The aggregates as CSV, streamed as the query service reads them. Cells starting with = + - @ tab or CR
// (admin-chosen key names, owners) are prefixed with ' so a spreadsheet shows them as text (OWASP CSV injection).
@Controller('v1/usage')
export class ExportController {
  constructor(private readonly usage: UsageQueryService) {}

  @Get('export.csv')
  async export(@Query() q: ExportQuery, @Res() reply: FastifyReply): Promise<void> {
    const { from, to } = range(q);
    const rows = this.usage.exportRows({ from, to }, q.granularity ?? 'hour', q.keyId);
    const csv = Readable.from(rows).pipe(
      stringify({ header: true, columns: EXPORT_COLUMNS, escape_formulas: true }),
    );
    void reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header(
        'content-disposition',
        `attachment; filename="keygate-usage-${from.toISOString().slice(0, 10)}.csv"`,
      )
      .send(csv);
  }
}
