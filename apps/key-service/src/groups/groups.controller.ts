import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiPropertyOptional, ApiProperty, ApiTags } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsInt, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { callerOf } from '../api-keys/api-keys.controller';
import { GroupsService } from './groups.service';

export class CreateGroupDto {
  @ApiProperty() @IsString() @MinLength(1) @MaxLength(128) name!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1024) description?: string;
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @ArrayMaxSize(500)
  routes?: string[];
}

export class UpdateGroupDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @MinLength(1) @MaxLength(128) name?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(1024) description?: string;
  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsString({ each: true })
  @ArrayMaxSize(500)
  routes?: string[];
}

export class ListGroupsQuery {
  @IsOptional() @IsInt() @Min(1) @Max(200) @Type(() => Number) limit?: number;
  @IsOptional() @IsString() @MaxLength(64) cursor?: string;
}

@ApiTags('groups')
@ApiBearerAuth()
@Controller('v1/groups')
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  @Post()
  create(@Body() dto: CreateGroupDto, @Req() req: FastifyRequest) {
    return this.groups.create(dto, callerOf(req));
  }

  @Get()
  list(@Query() q: ListGroupsQuery) {
    return this.groups.list(q.limit, q.cursor);
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.groups.get(id);
  }

  @Patch(':id')
  update(@Param('id') id: string, @Body() dto: UpdateGroupDto, @Req() req: FastifyRequest) {
    return this.groups.update(id, dto, callerOf(req));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @Req() req: FastifyRequest): Promise<void> {
    await this.groups.remove(id, callerOf(req));
  }
}
