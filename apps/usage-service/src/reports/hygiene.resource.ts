import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// OpenAPI shapes of the key hygiene reports (the console's generated client reads them).
class HygieneKeyDto {
  @ApiProperty() keyId!: string;
  @ApiProperty() name!: string;
  @ApiProperty() ownerId!: string;
  @ApiProperty() environment!: string;
  @ApiProperty() state!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) rotatedAt!: string | null;
  @ApiProperty({ type: Number, nullable: true }) rotationPeriodDays!: number | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) lastUsedAt!: string | null;
  @ApiPropertyOptional({ format: 'date-time', description: 'stale keys: when rotation was due' })
  rotationDueAt?: string;
}

export class HygienePageDto {
  @ApiProperty({ type: [HygieneKeyDto] }) data!: HygieneKeyDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}
