import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsString, MaxLength, MinLength } from 'class-validator';
import type { AdminRole } from '@keygate/contracts';

export class IssueAdminTokenDto {
  @ApiProperty({ example: 'ci-pipeline' }) @IsString() @MinLength(1) @MaxLength(128) name!: string;
  @ApiProperty({ enum: ['admin', 'auditor'], description: 'auditor tokens may only read' })
  @IsIn(['admin', 'auditor'])
  role!: AdminRole;
}

// OpenAPI shapes of the admin token answers (the console's generated client reads them).
export class AdminTokenResourceDto {
  @ApiProperty({ example: 'adm_…' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ enum: ['admin', 'auditor'] }) role!: AdminRole;
  @ApiProperty({ example: 'kgadm_…AbCd' }) maskedToken!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revokedAt!: string | null;
  @ApiProperty() version!: number;
}

export class IssuedAdminTokenDto extends AdminTokenResourceDto {
  @ApiProperty({ description: 'the token in clear: shown once, never again' }) token!: string;
}

export class AdminTokenPageDto {
  @ApiProperty({ type: [AdminTokenResourceDto] }) data!: AdminTokenResourceDto[];
  @ApiProperty({ type: String, nullable: true }) nextCursor!: string | null;
}
