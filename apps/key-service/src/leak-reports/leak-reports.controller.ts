import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { callerOf } from '../api-keys/api-keys.controller';
import { LeakReportDto, LeakReportResultDto } from './leak-report.dto';
import { LeakReportsService } from './leak-reports.service';

@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/keys/leaked')
export class LeakReportsController {
  constructor(private readonly leaks: LeakReportsService) {}

  // Every key of ours among the strings is revoked (reason `leaked`, the report's source in the event); the
  // answer tells ours from unknown, and nothing about the strings that are not ours.
  @ApiOkResponse({ type: LeakReportResultDto })
  @Post()
  @HttpCode(200)
  report(@Body() dto: LeakReportDto, @Req() req: FastifyRequest): Promise<LeakReportResultDto> {
    return this.leaks.report(
      dto.keys.map((candidate) => ({ candidate, source: dto.source })),
      callerOf(req),
    );
  }
}
