import { ApiBearerAuth, ApiOkResponse, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { AlertDto, AlertPageDto } from './alert.resource';
import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { Type } from 'class-transformer';
import {
  IsDateString,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
} from 'class-validator';
import { ALERT_TYPES, type AlertType } from '@keygate/contracts';
import { type Caller, CurrentCaller } from '@keygate/platform';
import { UsageError } from '../usage-errors';
import type { AlertRecord } from './alert';
import { AlertService } from './alert.service';

class AlertQuery {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) keyId?: string;
  @ApiPropertyOptional({ enum: ALERT_TYPES }) @IsOptional() @IsIn(ALERT_TYPES) type?: AlertType;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsDateString({ strict: true }) since?: string;
  @ApiPropertyOptional({ maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
  @ApiPropertyOptional()
  @IsOptional()
  @Matches(/^alr_[0-9A-Za-z]{22}$/, { message: 'cursor must be an alert id' })
  cursor?: string;
}

const presented = (a: AlertRecord) => {
  const { eventId: _eventId, ...rest } = a;
  return rest;
};

@ApiTags('alerts')
@ApiBearerAuth()
@Controller('v1/alerts')
export class AlertsController {
  constructor(private readonly alerts: AlertService) {}

  @Get()
  @ApiOkResponse({ type: AlertPageDto })
  async list(@Query() q: AlertQuery) {
    const page = await this.alerts.list({
      keyId: q.keyId,
      type: q.type,
      since: q.since ? new Date(q.since) : undefined,
      cursor: q.cursor,
      limit: q.limit ?? 100,
    });
    return { data: page.data.map(presented), nextCursor: page.nextCursor };
  }

  @Post(':id/ack')
  @ApiOkResponse({ type: AlertDto })
  @HttpCode(200)
  async ack(@Param('id') id: string, @CurrentCaller() caller: Caller) {
    const alert = await this.alerts.acknowledge(id, caller.actor.id);
    if (!alert) throw new UsageError('ALERT_NOT_FOUND', `alert ${id.slice(0, 64)} not found`);
    return presented(alert);
  }
}
