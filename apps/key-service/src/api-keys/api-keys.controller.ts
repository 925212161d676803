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
  Req,
  Res,
} from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Actor } from '../admin-auth/admin-auth.guard';
import { DomainError } from '../domain-errors';
import { CreateKeyDto, ListKeysQuery, ReasonDto, RotateKeyDto, UpdateKeyDto } from './api-key.dto';
import { ApiKeysService, type Caller } from './api-keys.service';

export const callerOf = (req: FastifyRequest): Caller => ({
  actor: (req as FastifyRequest & { actor: Actor }).actor,
  requestId: String(req.id),
});

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
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  create(@Body() dto: CreateKeyDto, @Req() req: FastifyRequest) {
    return this.keys.create(dto, callerOf(req));
  }

  @Get()
  list(@Query() q: ListKeysQuery) {
    return this.keys.list(q);
  }

  @Get(':id')
  async get(@Param('id') id: string, @Res({ passthrough: true }) reply: FastifyReply) {
    const key = await this.keys.get(id);
    void reply.header('etag', `"${key.version}"`);
    return key;
  }

  @Patch(':id')
  async update(
    @Param('id') id: string,
    @Body() dto: UpdateKeyDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Req() req: FastifyRequest,
    @Res({ passthrough: true }) reply: FastifyReply,
  ) {
    const key = await this.keys.update(id, dto, callerOf(req), parseIfMatch(ifMatch));
    void reply.header('etag', `"${key.version}"`);
    return key;
  }

  @Post(':id/rotate')
  rotate(@Param('id') id: string, @Body() dto: RotateKeyDto, @Req() req: FastifyRequest) {
    return this.keys.rotate(id, dto.gracePeriodSeconds ?? 0, callerOf(req));
  }

  @Post(':id/revoke')
  @HttpCode(200)
  revoke(@Param('id') id: string, @Body() dto: ReasonDto, @Req() req: FastifyRequest) {
    return this.keys.revoke(id, dto.reason ?? 'revoked by an administrator', callerOf(req));
  }

  @Post(':id/suspend')
  @HttpCode(200)
  suspend(@Param('id') id: string, @Body() dto: ReasonDto, @Req() req: FastifyRequest) {
    return this.keys.suspend(id, dto.reason ?? 'suspended by an administrator', callerOf(req));
  }

  @Post(':id/reactivate')
  @HttpCode(200)
  reactivate(@Param('id') id: string, @Req() req: FastifyRequest) {
    return this.keys.reactivate(id, callerOf(req));
  }

  @Delete(':id')
  @HttpCode(204)
  async remove(@Param('id') id: string, @Req() req: FastifyRequest): Promise<void> {
    await this.keys.remove(id, callerOf(req));
  }

  @Put(':id/groups/:groupId')
  addGroup(@Param('id') id: string, @Param('groupId') groupId: string, @Req() req: FastifyRequest) {
    return this.keys.addGroup(id, groupId, callerOf(req));
  }

  @Delete(':id/groups/:groupId')
  removeGroup(@Param('id') id: string, @Param('groupId') groupId: string, @Req() req: FastifyRequest) {
    return this.keys.removeGroup(id, groupId, callerOf(req));
  }
}
