import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiPropertyOptional,
  ApiProperty,
  ApiTags,
} from '@nestjs/swagger';
import { ArrayMaxSize, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { callerOf } from '../api-keys/api-keys.controller';
import { PageQuery } from '../page.dto';
import { GroupPageDto, GroupResourceDto } from './group.resource';
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

@ApiTags('groups')
@ApiBearerAuth()
@Controller('v1/groups')
export class GroupsController {
  constructor(private readonly groups: GroupsService) {}

  @ApiCreatedResponse({ type: GroupResourceDto })
  @Post()
  create(@Body() dto: CreateGroupDto, @Req() req: FastifyRequest) {
    return this.groups.create(dto, callerOf(req));
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
  update(@Param('id') id: string, @Body() dto: UpdateGroupDto, @Req() req: FastifyRequest) {
    return this.groups.update(id, dto, callerOf(req));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @Req() req: FastifyRequest): Promise<void> {
    await this.groups.remove(id, callerOf(req));
  }
}
