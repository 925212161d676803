import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { UsageError } from '../usage-errors';
import { GranularQuery, range, UsageRangeQuery } from './usage-query';
import { GROUP_BY, type GroupBy, UsageQueryService } from './usage.query-service';
import { UsageRequestDto, UsageSeriesDto, UsageSummaryDto } from './usage.resource';

class SummaryQuery extends UsageRangeQuery {
  @ApiPropertyOptional({ enum: GROUP_BY, default: 'key' })
  @IsOptional()
  @IsIn(GROUP_BY)
  groupBy?: GroupBy;
}

@ApiTags('usage')
@ApiBearerAuth()
@Controller('v1/usage')
export class UsageController {
  constructor(private readonly usage: UsageQueryService) {}

  @Get('keys/:keyId')
  @ApiOkResponse({ type: UsageSeriesDto })
  byKey(@Param('keyId') keyId: string, @Query() q: GranularQuery) {
    return this.usage.series(range(q), q.granularity ?? 'hour', keyId);
  }

  // Every key together: the console's "cost and requests over time".
  @Get('timeseries')
  @ApiOkResponse({ type: UsageSeriesDto })
  timeseries(@Query() q: GranularQuery) {
    return this.usage.series(range(q), q.granularity ?? 'hour');
  }

  // One request by the id its client saw in x-request-id, linked to the key as it was then.
  @Get('requests/:requestId')
  @ApiOkResponse({ type: UsageRequestDto })
  async request(@Param('requestId') requestId: string): Promise<UsageRequestDto> {
    const found = await this.usage.request(requestId);
    if (!found) throw new UsageError('REQUEST_NOT_FOUND', `request ${requestId.slice(0, 64)} not found`);
    return found;
  }

  @Get('summary')
  @ApiOkResponse({ type: UsageSummaryDto })
  summary(@Query() q: SummaryQuery) {
    return this.usage.summary(range(q), q.groupBy ?? 'key');
  }
}
