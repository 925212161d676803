import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';

// limit/cursor of the list endpoints that have no other filter (providers, admin tokens).
export class PageQuery {
  @ApiPropertyOptional({ minimum: 1, maximum: 200 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(200)
  @Type(() => Number)
  limit?: number;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(64) cursor?: string;
}
