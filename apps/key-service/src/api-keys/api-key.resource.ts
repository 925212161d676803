import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BudgetDto, RateLimitDto } from './api-key.dto';
import type { KeyResource, RouteGrant } from './api-keys.service';

// The OpenAPI shape of a key resource (the console's client is generated from it). `implements` keeps it in step
// with what the service returns.
class GrantingGroupDto {
  @ApiProperty({ example: 'grp_…' }) id!: string;
  @ApiProperty() name!: string;
}

export class RouteGrantDto implements RouteGrant {
  @ApiProperty({ example: 'gpt-4o-mini' }) route!: string;
  @ApiProperty({ type: [GrantingGroupDto], description: 'the groups of the key that grant this route' })
  groups!: GrantingGroupDto[];
}

export class KeyResourceDto implements KeyResource {
  @ApiProperty({ example: 'key_…' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ type: String, nullable: true }) ownerId!: string | null;
  @ApiProperty({ enum: ['live', 'test'] }) environment!: 'live' | 'test';
  @ApiProperty({ enum: ['active', 'suspended', 'revoked', 'expired'] }) state!:
    'active' | 'suspended' | 'revoked' | 'expired';
  @ApiProperty({ example: 'kg_live_…AbCd' }) maskedKey!: string;
  @ApiProperty({ type: [String] }) groupIds!: string[];
  @ApiProperty({ type: [String] }) accessibleRoutes!: string[];
  @ApiProperty({ type: [RouteGrantDto] }) routeGrants!: RouteGrantDto[];
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) expiresAt!: string | null;
  @ApiProperty({ type: [String] }) ipAllow!: string[];
  @ApiProperty({ type: [String] }) ipDeny!: string[];
  @ApiProperty({ type: RateLimitDto, nullable: true }) rateLimit!: RateLimitDto | null;
  @ApiProperty({ type: BudgetDto, nullable: true }) budget!: BudgetDto | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) metadata!: Record<
    string,
    string
  >;
  @ApiProperty({ type: Number, nullable: true }) rotationPeriodDays!: number | null;
  @ApiProperty({ type: Number, nullable: true, description: '0 = never; null = the deployment default' })
  dormantAfterDays!: number | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) rotatedAt!: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'last request presenting this key at the gateway (about a minute behind at most)',
  })
  lastUsedAt!: string | null;
  @ApiProperty({ description: 'the ETag; If-Match of PATCH' }) version!: number;
}

export class CreatedKeyDto extends KeyResourceDto {
  @ApiProperty({ description: 'the key in clear: shown once, never again' }) key!: string;
}

export class KeyPageDto {
  @ApiProperty({ type: [KeyResourceDto] }) data!: KeyResourceDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}
