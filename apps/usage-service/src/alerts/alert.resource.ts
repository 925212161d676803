import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ALERT_TYPES } from '@keygate/contracts';

// OpenAPI shapes of the alert answers (the console's generated client reads them).
export class AlertDto {
  @ApiProperty({ example: 'alr_…' }) id!: string;
  @ApiProperty({ type: String, nullable: true }) keyId!: string | null;
  @ApiProperty({ description: 'the key or IP the alert is about' }) subject!: string;
  @ApiProperty({ enum: ALERT_TYPES }) type!: string;
  @ApiProperty({ enum: ['info', 'warning', 'critical'] }) severity!: string;
  @ApiProperty() message!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: Record<string, unknown>;
  @ApiProperty({ format: 'date-time' }) raisedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) acknowledgedAt!: string | null;
  @ApiProperty({ type: String, nullable: true }) acknowledgedBy!: string | null;
}

export class AlertPageDto {
  @ApiProperty({ type: [AlertDto] }) data!: AlertDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}
