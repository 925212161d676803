import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type { RouteLimit } from '@keygate/contracts';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsDateString,
  IsIn,
  IsInt,
  IsNumberString,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateBy,
  ValidateNested,
} from 'class-validator';
import { PlainRecord } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { PageQuery } from '../page.dto';
import { KEY_LIMITS, requireRouteLimits } from './api-key.decider.validation';

// rateLimit.routes is keyed by route names the caller picks, which class-validator's nesting cannot walk: the
// decider's own shape rules check it here (the message without its "rateLimit." prefix: the pipe adds it), so
// REST, gRPC and the decider refuse the same entries in the same words. Whether each route exists is the decider's.
const routeLimitsProblem = (value: unknown): string | null => {
  try {
    requireRouteLimits(value);
    return null;
  } catch (e) {
    if (e instanceof DomainError) return e.message.replace(/^rateLimit\./, '');
    throw e;
  }
};

const IsRouteLimits = () =>
  ValidateBy({
    name: 'isRouteLimits',
    validator: {
      validate: (value: unknown) => routeLimitsProblem(value) === null,
      defaultMessage: (args) => routeLimitsProblem(args?.value) ?? 'routes is invalid',
    },
  });

export class RateLimitDto {
  @ApiPropertyOptional({ description: 'a tier of routes.yaml, e.g. free' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  tier?: string;
  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(KEY_LIMITS.requestsPerMinute)
  requestsPerMinute?: number;
  @ApiPropertyOptional()
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(KEY_LIMITS.tokensPerMinute)
  tokensPerMinute?: number;
  @ApiPropertyOptional({
    description:
      'requests in flight at once, across every gateway instance (429 concurrency_limit_exceeded beyond)',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100_000)
  maxConcurrentRequests?: number;
  @ApiPropertyOptional({
    type: 'object',
    description:
      'limits of this key on single routes (route name → limits, at most 50), on top of its own: e.g. { "gpt-4o": { "requestsPerMinute": 10 } }',
    additionalProperties: {
      type: 'object',
      properties: {
        requestsPerMinute: { type: 'integer', minimum: 1, maximum: KEY_LIMITS.requestsPerMinute },
        tokensPerMinute: { type: 'integer', minimum: 1, maximum: KEY_LIMITS.tokensPerMinute },
      },
    },
  })
  @IsOptional()
  @IsRouteLimits()
  routes?: Record<string, RouteLimit>;
}

export class BudgetDto {
  @ApiProperty({ example: '25.00', description: 'USD, decimal string' })
  @IsNumberString({ no_symbols: false })
  @Matches(/^\d{1,9}(\.\d{1,6})?$/, { message: 'amountUsd must be a decimal with at most 6 places' })
  amountUsd!: string;
  @ApiProperty({ enum: ['day', 'week', 'month'] }) @IsIn(['day', 'week', 'month']) period!:
    'day' | 'week' | 'month';
}

class RestrictionsDto {
  @ApiPropertyOptional({ type: String, format: 'date-time', nullable: true })
  @IsOptional()
  @IsDateString({ strict: true })
  expiresAt?: string | null;
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  @ArrayMaxSize(200)
  ipAllow?: string[];
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  @ArrayMaxSize(200)
  ipDeny?: string[];
  @ApiPropertyOptional({ type: RateLimitDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => RateLimitDto)
  rateLimit?: RateLimitDto | null;
  @ApiPropertyOptional({ type: BudgetDto, nullable: true })
  @IsOptional()
  @ValidateNested()
  @Type(() => BudgetDto)
  budget?: BudgetDto | null;
}

// What create and update share besides the restrictions.
class KeyDetailsDto extends RestrictionsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1024) description?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  @IsOptional()
  @IsObject()
  @PlainRecord()
  metadata?: Record<string, string>;
  @ApiPropertyOptional({ type: Number, nullable: true, minimum: 1, maximum: 3650 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(3650)
  rotationPeriodDays?: number | null;
  @ApiPropertyOptional({
    type: Number,
    nullable: true,
    minimum: 0,
    maximum: 3650,
    description: 'suspend after this many days unused; 0 = never, null = the deployment default',
  })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3650)
  dormantAfterDays?: number | null;
}

export class CreateKeyDto extends KeyDetailsDto {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(128) name!: string;
  @ApiPropertyOptional({ description: 'team or person owning the key; none when absent' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  ownerId?: string;
  @ApiPropertyOptional({ enum: ['live', 'test'] }) @IsOptional() @IsIn(['live', 'test']) environment?:
    'live' | 'test';
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @ArrayMaxSize(50)
  groupIds?: string[];
}

export class UpdateKeyDto extends KeyDetailsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MinLength(1) @MaxLength(128) name?: string;
}

export class RotateKeyDto {
  @ApiPropertyOptional({ description: 'seconds the old secret keeps working; 0 = immediately', default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(30 * 86400)
  gracePeriodSeconds?: number;
}

export class ReasonDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(512) reason?: string;
}

export class ListKeysQuery extends PageQuery {
  @ApiPropertyOptional({ description: 'name or description contains; or the exact key id' })
  @IsOptional()
  @IsString()
  @MaxLength(128)
  search?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) groupId?: string;
  @ApiPropertyOptional({ enum: ['active', 'suspended', 'revoked', 'expired'] })
  @IsOptional()
  @IsIn(['active', 'suspended', 'revoked', 'expired'])
  state?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(128) ownerId?: string;
  @ApiPropertyOptional({ enum: ['live', 'test'] }) @IsOptional() @IsIn(['live', 'test']) environment?: string;
  @ApiPropertyOptional({ format: 'date-time' })
  @IsOptional()
  @IsDateString({ strict: true })
  expiringBefore?: string;
  @ApiPropertyOptional({
    format: 'date-time',
    description: 'not presented at the gateway since (and older than)',
  })
  @IsOptional()
  @IsDateString({ strict: true })
  unusedSince?: string;
}
