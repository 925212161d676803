import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { Controller, Get, Query } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { HygieneQueryService } from './hygiene.query-service';
import { HygienePageDto } from './hygiene.resource';

class PageQuery {
  @ApiPropertyOptional({ maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) cursor?: string;
}

class UnusedQuery extends PageQuery {
  @ApiProperty({ minimum: 1, maximum: 3650 }) @Type(() => Number) @IsInt() @Min(1) @Max(3650) days!: number;
}

@ApiTags('hygiene')
@ApiBearerAuth()
@Controller('v1/keys')
export class HygieneController {
  constructor(private readonly hygiene: HygieneQueryService) {}

  @Get('unused')
  @ApiOkResponse({ type: HygienePageDto })
  unused(@Query() q: UnusedQuery) {
    return this.hygiene.unused(q.days, { limit: q.limit ?? 100, cursor: q.cursor });
  }

  @Get('stale')
  @ApiOkResponse({ type: HygienePageDto })
  stale(@Query() q: PageQuery) {
    return this.hygiene.stale({ limit: q.limit ?? 100, cursor: q.cursor });
  }
}
