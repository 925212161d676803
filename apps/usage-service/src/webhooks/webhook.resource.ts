import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ALERT_TYPES } from '@keygate/contracts';

// OpenAPI shapes of the webhook answers (the console's generated client reads them). No secret, ever.
export class WebhookDto {
  @ApiProperty({ example: 'whk_…' }) id!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: ALERT_TYPES, isArray: true, nullable: true }) types!: string[] | null;
  @ApiProperty({
    type: [String],
    nullable: true,
    description: 'owners whose keys’ alerts it gets; null = all',
  })
  ownerIds!: string[] | null;
  @ApiProperty() description!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty() createdBy!: string;
}

export class WebhookPageDto {
  @ApiProperty({ type: [WebhookDto] }) data!: WebhookDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}

class AttemptDto {
  @ApiProperty() attempt!: number;
  @ApiProperty({ format: 'date-time' }) startedAt!: string;
  @ApiProperty() durationMs!: number;
  @ApiProperty({ type: Number, nullable: true }) statusCode!: number | null;
  @ApiProperty({ type: String, nullable: true }) error!: string | null;
}

class DeliveryDto {
  @ApiProperty() id!: string;
  @ApiProperty() alertId!: string;
  @ApiProperty({ enum: ['pending', 'delivered', 'failed', 'cancelled'] }) status!: string;
  @ApiProperty({ type: [AttemptDto] }) attempts!: AttemptDto[];
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) nextAttemptAt!: string | null;
  @ApiProperty({ type: Number, nullable: true }) lastStatusCode!: number | null;
  @ApiProperty({ type: String, nullable: true }) lastError!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) deliveredAt!: string | null;
}

export class DeliveryPageDto {
  @ApiProperty({ type: [DeliveryDto] }) data!: DeliveryDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}
