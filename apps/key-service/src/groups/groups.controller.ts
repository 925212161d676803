import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiPropertyOptional,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsOptional, IsString, MaxLength, MinLength, ValidateNested } from 'class-validator';
import { type Caller, CurrentCaller } from '@keygate/platform';
import { BudgetDto } from '../api-keys/api-key.dto';
import { PageQuery } from '../page.dto';
import { GroupPageDto, GroupResourceDto } from './group.resource';
import { GroupsService } from './groups.service';

// What create and update share.
class GroupFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1024) description?: string;
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @ArrayMaxSize(500)
  routes?: string[];
  // A key's budget shape and rules, for the spend of every key of the group together.
  @ApiPropertyOptional({
    type: BudgetDto,
    nullable: true,
    description: 'shared by every key of the group; null removes it',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => BudgetDto)
  budget?: BudgetDto | null;
}

export class CreateGroupDto extends GroupFieldsDto {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(128) name!: string;
}

export class UpdateGroupDto extends GroupFieldsDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MinLength(1) @MaxLength(128) name?: string;
}

@ApiTags('groups')
@ApiBearerAuth()
@Controller('v1/groups')
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  @ApiCreatedResponse({ type: GroupResourceDto })
  @Post()
  create(@Body() dto: CreateGroupDto, @CurrentCaller() caller: Caller) {
    return this.groups.create(dto, caller);
  }

  @ApiOkResponse({ type: GroupPageDto })
  @Get()
  list(@Query() q: PageQuery) {
    return this.groups.list(q.limit, q.cursor);
  }

  @ApiOkResponse({ type: GroupResourceDto })
  @Get(':id')
  get(@Param('id') id: string) {
    return this.groups.get(id);
  }

  @ApiOkResponse({ type: GroupResourceDto })
  @Patch(':id')
  update(@Param('id') id: string, @Body() dto: UpdateGroupDto, @CurrentCaller() caller: Caller) {
    return this.groups.update(id, dto, caller);
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<void> {
    await this.groups.remove(id, caller);
  }
}
