import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
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
import { KEY_EVENT_TYPES } from '@keygate/contracts';

export class AuditQuery {
  @ApiPropertyOptional({ description: 'a stream id: key_…, grp_…, prv_…, adm_…' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  aggregateId?: string;
  @ApiPropertyOptional({ enum: KEY_EVENT_TYPES }) @IsOptional() @IsIn(KEY_EVENT_TYPES) type?: string;
  @ApiPropertyOptional({ description: 'ISO instant, inclusive' })
  @IsOptional()
  @IsDateString({ strict: true })
  from?: string;
  @ApiPropertyOptional({ description: 'ISO instant, exclusive' })
  @IsOptional()
  @IsDateString({ strict: true })
  to?: string;
  @ApiPropertyOptional({ default: 100, maximum: 500 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(500)
  @Type(() => Number)
  limit?: number;
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{1,32}$/, { message: 'cursor must be a nextCursor of a previous page' })
  cursor?: string;
}

// OpenAPI shape of an audit page (hashes and ciphertext are redacted from `data`).
class AuditEntryDto {
  @ApiProperty() id!: string;
  @ApiProperty() position!: number;
  @ApiProperty({ enum: KEY_EVENT_TYPES }) type!: string;
  @ApiProperty() aggregateId!: string;
  @ApiProperty() streamPosition!: number;
  @ApiProperty({ description: 'admin token id, or bootstrap' }) actor!: string;
  @ApiProperty() requestId!: string;
  @ApiProperty({ format: 'date-time' }) time!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) data!: Record<string, unknown>;
}

export class AuditPageDto {
  @ApiProperty({ type: [AuditEntryDto] }) data!: AuditEntryDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}
