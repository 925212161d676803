import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, MaxLength, MinLength } from 'class-validator';

export const MAX_REPORTED_KEYS = 1000;

export class LeakReportDto {
  @ApiProperty({ type: [String], description: 'strings found somewhere (a paste, a log, a repository)' })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_REPORTED_KEYS)
  @IsString({ each: true })
  @MaxLength(512, { each: true })
  keys!: string[];

  @ApiProperty({ description: 'where they were found; kept in each revocation event' })
  @IsString()
  @MinLength(1)
  @MaxLength(500)
  source!: string;
}

// left_active: ours, found by a scanner configured to alert only.
export type LeakOutcome = 'revoked' | 'already_revoked' | 'left_active' | 'unknown';

export class LeakFindingDto {
  @ApiProperty({ description: 'position of the string in the report' }) index!: number;
  @ApiProperty({ enum: ['revoked', 'already_revoked', 'left_active', 'unknown'] }) outcome!: LeakOutcome;
  @ApiPropertyOptional({ description: 'ours only' }) keyId?: string;
  @ApiPropertyOptional({ description: 'ours only' }) maskedKey?: string;
}

export class LeakReportResultDto {
  @ApiProperty() revoked!: number;
  @ApiProperty() alreadyRevoked!: number;
  @ApiProperty() leftActive!: number;
  @ApiProperty() unknown!: number;
  @ApiProperty({ type: [LeakFindingDto] }) results!: LeakFindingDto[];
}
