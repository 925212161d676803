import { Body, Controller, Delete, Get, Param, Post, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { callerOf } from '../api-keys/api-keys.controller';
import { PageQuery } from '../page.dto';
import {
  AdminTokenPageDto,
  AdminTokenResourceDto,
  IssueAdminTokenDto,
  IssuedAdminTokenDto,
} from './admin-token.dto';
import { AdminTokensService } from './admin-tokens.service';

@ApiTags('admin-tokens')
@ApiBearerAuth()
@Controller('v1/admin-tokens')
export class AdminTokensController {
  constructor(private readonly tokens: AdminTokensService) {}

  // 201 with "token": the plaintext, shown once.
  @Post()
  @ApiCreatedResponse({ type: IssuedAdminTokenDto })
  issue(@Body() dto: IssueAdminTokenDto, @Req() req: FastifyRequest) {
    return this.tokens.issue(dto, callerOf(req));
  }

  @Get()
  @ApiOkResponse({ type: AdminTokenPageDto })
  list(@Query() q: PageQuery) {
    return this.tokens.list(q.limit, q.cursor);
  }

  // Revoked tokens stay listed with revokedAt; 200 with the resource, like POST /v1/keys/:id/revoke.
  @Delete(':id')
  @ApiOkResponse({ type: AdminTokenResourceDto })
  revoke(@Param('id') id: string, @Req() req: FastifyRequest) {
    return this.tokens.revoke(id, callerOf(req));
  }
}
