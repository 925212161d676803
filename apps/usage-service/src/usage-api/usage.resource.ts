import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

// OpenAPI shapes of the usage answers (the console's generated client reads them).
class UsageTotalsDto {
  @ApiProperty() requests!: number;
  @ApiProperty() errors!: number;
  @ApiProperty({
    type: 'object',
    additionalProperties: { type: 'number' },
    description: 'requests by error code',
  })
  errorsByCode!: Record<string, number>;
  @ApiProperty() promptTokens!: number;
  @ApiProperty() completionTokens!: number;
  @ApiProperty({ example: '0.001250', description: 'USD, decimal string' }) costUsd!: string;
}

class UsageBucketDto extends UsageTotalsDto {
  @ApiProperty({ format: 'date-time' }) start!: string;
}

export class UsageSeriesDto {
  @ApiProperty({ type: [UsageBucketDto] }) data!: UsageBucketDto[];
}

// One row per value of the groupBy dimension; only that dimension's field (and its labels) is present.
class UsageSummaryRowDto extends UsageTotalsDto {
  @ApiPropertyOptional({ type: String, nullable: true }) keyId?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true, description: 'key or group name' }) name?:
    string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) ownerId?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) route?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) model?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) provider?: string | null;
  @ApiPropertyOptional({ type: String, nullable: true }) groupId?: string | null;
}

export class UsageSummaryDto {
  @ApiProperty({ type: [UsageSummaryRowDto] }) data!: UsageSummaryRowDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
  @ApiProperty({ format: 'date-time' }) from!: string;
  @ApiProperty({ format: 'date-time' }) to!: string;
}

// One gateway request as the ledger holds it, with where to read the key as it was when the request was served.
export class UsageRequestDto {
  @ApiProperty() requestId!: string;
  @ApiProperty({ type: String, nullable: true, description: 'null: no key of ours was presented' }) keyId!:
    string | null;
  @ApiProperty({ format: 'date-time' }) time!: string;
  @ApiProperty() endpoint!: string;
  @ApiProperty({ type: String, nullable: true }) route!: string | null;
  @ApiProperty({ type: String, nullable: true }) provider!: string | null;
  @ApiProperty({ type: String, nullable: true }) model!: string | null;
  @ApiProperty() status!: number;
  @ApiProperty({ enum: ['success', 'upstream_error', 'rejected'] }) outcome!: string;
  @ApiProperty({ type: String, nullable: true }) errorCode!: string | null;
  @ApiProperty() promptTokens!: number;
  @ApiProperty() completionTokens!: number;
  @ApiProperty() streamed!: boolean;
  @ApiProperty() latencyMs!: number;
  @ApiProperty({ type: String, nullable: true }) clientIp!: string | null;
  @ApiProperty({ example: '0.001250', description: 'USD, decimal string' }) costUsd!: string;
  @ApiProperty({
    type: String,
    nullable: true,
    example: '/v1/keys/key_01J…?at=2026-12-03T10:00:00.000Z',
    description:
      "the key-service path of the key's state when the request arrived (time − latency): its restrictions, groups, state",
  })
  keyAsOf!: string | null;
}
