import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, MaxLength } from 'class-validator';

export class KeyAtQuery {
  @ApiPropertyOptional({
    format: 'date-time',
    description:
      'answer the key as it was at this instant (folded from its events), with the event that made it so',
  })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  at?: string;
}
