import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Patch,
  Post,
  Put,
  Query,
  Res,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { type Caller, CurrentCaller } from '@keygate/platform';
import { DomainError } from '../domain-errors';
import { KeyAtQuery } from '../key-history/key-at.dto';
import { KeyAtService } from '../key-history/key-at.service';
import { CreateKeyDto, ListKeysQuery, ReasonDto, RotateKeyDto, UpdateKeyDto } from './api-key.dto';
import { CreatedKeyDto, KeyPageDto, KeyResourceDto } from './api-key.resource';
import { ApiKeysService } from './api-keys.service';

const parseIfMatch = (header: string | undefined): number | undefined => {
  if (header === undefined) return undefined;
  const m = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(header);
  if (!m)
    throw new DomainError('VALIDATION_FAILED', 'If-Match must be the ETag of GET /v1/keys/:id, e.g. "3"');
  return Number(m[1]);
};

@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/keys')
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeysService,
    private readonly history: KeyAtService,
  ) {}

  @ApiCreatedResponse({ type: CreatedKeyDto })
  @Post()
  create(@Body() dto: CreateKeyDto, @CurrentCaller() caller: Caller) {
    return this.keys.create(dto, caller);
  }

  @ApiOkResponse({ type: KeyPageDto })
  @Get()
  list(@Query() q: ListKeysQuery) {
    return this.keys.list(q);
  }

  @ApiOkResponse({ type: KeyResourceDto, description: 'with ?at=: the key then, plus asOf: { at, event }' })
  @Get(':id')
  async get(
    @Param('id') id: string,
    @Query() q: KeyAtQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    // A past state has no ETag: it cannot be the base of a change.
    if (q.at !== undefined) return this.history.at(id, q.at);
    const key = await this.keys.get(id);
    void reply.header('etag', `"${key.version}"`);
    return key;
  }

  @ApiOkResponse({ type: KeyResourceDto })
  @Patch(':id')
  async update(
    @Param('id') id: string,
    @Body() dto: UpdateKeyDto,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentCaller() caller: Caller,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const key = await this.keys.update(id, dto, caller, parseIfMatch(ifMatch));
    void reply.header('etag', `"${key.version}"`);
    return key;
  }

  @ApiCreatedResponse({ type: CreatedKeyDto })
  @Post(':id/rotate')
  rotate(@Param('id') id: string, @Body() dto: RotateKeyDto, @CurrentCaller() caller: Caller) {
    return this.keys.rotate(id, dto.gracePeriodSeconds ?? 0, caller);
  }

  @ApiOkResponse({ type: KeyResourceDto })
  @Post(':id/revoke')
  @HttpCode(200)
  revoke(@Param('id') id: string, @Body() dto: ReasonDto, @CurrentCaller() caller: Caller) {
    return this.keys.revoke(id, dto.reason ?? 'revoked by an administrator', caller);
  }

  @ApiOkResponse({ type: KeyResourceDto })
  @Post(':id/suspend')
  @HttpCode(200)
  suspend(@Param('id') id: string, @Body() dto: ReasonDto, @CurrentCaller() caller: Caller) {
    return this.keys.suspend(id, dto.reason ?? 'suspended by an administrator', caller);
  }

  @ApiOkResponse({ type: KeyResourceDto })
  @Post(':id/reactivate')
  @HttpCode(200)
  reactivate(@Param('id') id: string, @CurrentCaller() caller: Caller) {
    return this.keys.reactivate(id, caller);
  }

  @ApiNoContentResponse()
  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @CurrentCaller() caller: Caller): Promise<void> {
    await this.keys.remove(id, caller);
  }

  @ApiOkResponse({ type: KeyResourceDto })
  @Put(':id/groups/:groupId')
  addGroup(@Param('id') id: string, @Param('groupId') groupId: string, @CurrentCaller() caller: Caller) {
    return this.keys.addGroup(id, groupId, caller);
  }

  @ApiOkResponse({ type: KeyResourceDto })
  @Delete(':id/groups/:groupId')
  removeGroup(@Param('id') id: string, @Param('groupId') groupId: string, @CurrentCaller() caller: Caller) {
    return this.keys.removeGroup(id, groupId, caller);
  }
}
