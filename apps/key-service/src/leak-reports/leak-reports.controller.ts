import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { type Caller, CurrentCaller } from '@keygate/platform';
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
  report(@Body() dto: LeakReportDto, @CurrentCaller() caller: Caller): Promise<LeakReportResultDto> {
    return this.leaks.report(
      dto.keys.map((candidate) => ({ candidate, source: dto.source })),
      caller,
    );
  }
}
