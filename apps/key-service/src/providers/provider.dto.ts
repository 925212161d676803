import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateNested } from 'class-validator';
import type { ProviderType } from '@keygate/contracts';

// Unknown settings are rejected by the strict pipe (forbidNonWhitelisted); the decider re-checks URLs.
export class ProviderSettingsDto {
  @ApiPropertyOptional({ example: 'https://api.openai.com/v1' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  baseUrl?: string;
  @ApiPropertyOptional({ example: 'https://my-resource.openai.azure.com' })
  @IsOptional()
  @IsString()
  @MaxLength(2048)
  endpoint?: string;
  @ApiPropertyOptional({ example: 'gpt-4o-mini' })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  deployment?: string;
  @ApiPropertyOptional({ example: '2024-10-21' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  apiVersion?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(256) organization?: string;
}

// The secret is write-only: validated for shape, never echoed (validation messages carry no values).
const IsSecret = () =>
  applyDecorators(
    IsString(),
    MinLength(8),
    MaxLength(4096),
    // Provider keys are printable ASCII; anything else is a paste error, and the stored last 4 characters must
    // never cut a surrogate pair in half (jsonb refuses the lone half).
    Matches(/^[\x21-\x7e]+$/, { message: 'secret must be printable ASCII without whitespace' }),
  );

export class AddProviderDto {
  @ApiProperty({ example: 'openai-prod', description: 'the name routes.yaml uses as `credential:`' })
  @IsString()
  @MinLength(1)
  @MaxLength(64)
  name!: string;
  @ApiProperty({ enum: ['openai', 'azure', 'gemini'] })
  @IsIn(['openai', 'azure', 'gemini'])
  type!: ProviderType;
  @ApiProperty({ description: 'the provider API key; write-only' })
  @IsSecret()
  secret!: string;
  @ApiPropertyOptional({ type: ProviderSettingsDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ProviderSettingsDto)
  settings?: ProviderSettingsDto;
}

export class UpdateProviderDto {
  @ApiProperty({ type: ProviderSettingsDto, description: 'replaces all settings' })
  @ValidateNested()
  @Type(() => ProviderSettingsDto)
  settings!: ProviderSettingsDto;
}

export class RotateProviderDto {
  @ApiProperty({ description: 'the new provider API key; write-only' })
  @IsSecret()
  secret!: string;
  @ApiPropertyOptional({ type: ProviderSettingsDto, description: 'absent = unchanged' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ProviderSettingsDto)
  settings?: ProviderSettingsDto;
}
