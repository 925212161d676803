import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { BudgetDto } from '../api-keys/api-key.dto';
import type { GroupResource } from './groups.service';

// OpenAPI shapes of the group answers (the console's generated client reads them).
export class GroupResourceDto implements GroupResource {
  @ApiProperty({ example: 'grp_…' }) id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ type: [String], description: 'routes of routes.yaml this group grants' }) routes!: string[];
  @ApiProperty({ type: BudgetDto, nullable: true, description: 'shared by every key of the group' })
  budget!: BudgetDto | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty() version!: number;
}

export class GroupPageDto {
  @ApiProperty({ type: [GroupResourceDto] }) data!: GroupResourceDto[];
  @ApiPropertyOptional({ type: String, nullable: true }) nextCursor!: string | null;
}
