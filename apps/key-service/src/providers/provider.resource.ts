import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { ProviderType } from '@keygate/contracts';
import type { ProbeResult } from './provider-probe';
import type { ProviderResource } from './providers.service';

// OpenAPI shapes of the provider credential answers (the console's generated client reads them).
export class ProviderResourceDto implements ProviderResource {
  @ApiProperty({ example: 'pcr_…' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['openai', 'azure', 'gemini'] }) type!: ProviderType;
  @ApiProperty({ example: '…AbCd' }) maskedSecret!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) settings!: Record<
    string,
    string
  >;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty() version!: number;
}

export class ProviderPageDto {
  @ApiProperty({ type: [ProviderResourceDto] }) data!: ProviderResourceDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}

export class ProbeResultDto implements ProbeResult {
  @ApiProperty() ok!: boolean;
  @ApiProperty({ description: 'upstream HTTP status; 0 when there was no response' }) status!: number;
  @ApiProperty() latencyMs!: number;
  @ApiPropertyOptional({ description: 'what went wrong, precisely' }) error?: string;
}
