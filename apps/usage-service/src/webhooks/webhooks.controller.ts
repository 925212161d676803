import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsOptional,
  IsString,
  IsUrl,
  MaxLength,
  MinLength,
} from 'class-validator';
import { ALERT_TYPES, type AlertType } from '@keygate/contracts';
import { type Caller, CurrentCaller } from '@keygate/platform';
import { DeliveryPageDto, WebhookDto, WebhookPageDto } from './webhook.resource';
import { WebhooksService } from './webhooks.service';

class CreateWebhookDto {
  // No credentials in the URL: they would be stored and listed in clear.
  @ApiProperty({ example: 'https://hooks.example.com/keygate' })
  @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false, disallow_auth: true })
  @MaxLength(2048)
  url!: string;
  @ApiProperty({ description: 'HMAC secret, at least 16 characters; write-only' })
  @IsString()
  @MinLength(16)
  @MaxLength(256)
  secret!: string;
  @ApiPropertyOptional({ enum: ALERT_TYPES, isArray: true, description: 'all alert types when absent' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(ALERT_TYPES.length)
  @IsIn(ALERT_TYPES, { each: true })
  types?: AlertType[];
  @ApiPropertyOptional({
    type: [String],
    description: 'only alerts about these owners’ keys; all when absent',
  })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100)
  @IsString({ each: true })
  @MaxLength(128, { each: true })
  ownerIds?: string[];
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) description?: string;
}

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiCreatedResponse({ type: WebhookDto })
  create(@Body() dto: CreateWebhookDto, @CurrentCaller() caller: Caller) {
    return this.webhooks.create(dto, caller.actor.id);
  }

  @Get()
  @ApiOkResponse({ type: WebhookPageDto })
  list() {
    return this.webhooks.list();
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string): Promise<void> {
    await this.webhooks.remove(id);
  }

  @Get(':id/deliveries')
  @ApiOkResponse({ type: DeliveryPageDto })
  deliveries(@Param('id') id: string) {
    return this.webhooks.deliveries(id);
  }
}
