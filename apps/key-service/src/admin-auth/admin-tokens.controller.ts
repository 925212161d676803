import { Body, Controller, Delete, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { type Caller, CurrentCaller } from '@keygate/platform';
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
  issue(@Body() dto: IssueAdminTokenDto, @CurrentCaller() caller: Caller) {
    return this.tokens.issue(dto, caller);
  }

  @Get()
  @ApiOkResponse({ type: AdminTokenPageDto })
  list(@Query() q: PageQuery) {
    return this.tokens.list(q.limit, q.cursor);
  }

  // Revoked tokens stay listed with revokedAt; 200 with the resource, like POST /v1/keys/:id/revoke.
  @Delete(':id')
  @ApiOkResponse({ type: AdminTokenResourceDto })
  revoke(@Param('id') id: string, @CurrentCaller() caller: Caller) {
    return this.tokens.revoke(id, caller);
  }
}
