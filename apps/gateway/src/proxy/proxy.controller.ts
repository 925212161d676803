import { Controller, Get, HttpCode, Post, Req, Res } from '@nestjs/common';
import { context } from '@opentelemetry/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { requestContext } from '@keygate/platform';
import { ProxyService } from './proxy.service';

@Controller('v1')
export class ProxyController {
  constructor(private readonly proxy: ProxyService) {}

  @Post('chat/completions')
  @HttpCode(200)
  chat(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return context.with(requestContext(req), () => this.proxy.handle('chat', req, reply));
  }

  @Post('embeddings')
  @HttpCode(200)
  embeddings(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return context.with(requestContext(req), () => this.proxy.handle('embeddings', req, reply));
  }

  @Get('models')
  models(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return context.with(requestContext(req), () => this.proxy.models(req, reply));
  }
}
