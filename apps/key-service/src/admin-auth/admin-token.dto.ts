import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, MaxLength, MinLength } from 'class-validator';
import type { AdminRole } from '@keygate/contracts';

export class IssueAdminTokenDto {
  @ApiProperty({ example: 'ci-pipeline' }) @IsString() @MinLength(1) @MaxLength(128) name!: string;
  @ApiProperty({ enum: ['admin', 'auditor'], description: 'auditor tokens may only read' })
  @IsIn(['admin', 'auditor'])
  role!: AdminRole;
}
