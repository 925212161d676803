import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requestContext } from '@keygate/platform';
import { ProxyService } from './proxy.service';

type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

// The OpenAI-compatible routes, on Fastify itself rather than through a Nest controller: Nest's router adds its
// execution context, interceptor chain and exception zone to every request (≈ 13 µs here, a framework-only
// measurement in bench/README.md) and the proxy uses none of them. Fastify's hooks (metrics, server span, body
// limit) run as for every route, and what fails before the handler (malformed JSON, 413, 415) still reaches the
// error filter, which Nest installs as Fastify's error handler. The handler answers every request itself.
@Injectable()
export class ProxyRoutes implements OnModuleInit {
  constructor(
    private readonly adapter: HttpAdapterHost,
    private readonly proxy: ProxyService,
  ) {}

  onModuleInit(): void {
    const fastify = this.adapter.httpAdapter.getInstance<FastifyInstance>();
    // A traced request runs in its server span's context; one that is not traced enters none.
    const inRequest =
      (handler: Handler): Handler =>
      (req, reply) => {
        const traced = requestContext(req);
        return traced ? context.with(traced, handler, undefined, req, reply) : handler(req, reply);
      };
    fastify.post(
      '/v1/chat/completions',
      inRequest((req, reply) => this.proxy.handle('chat', req, reply)),
    );
    fastify.post(
      '/v1/embeddings',
      inRequest((req, reply) => this.proxy.handle('embeddings', req, reply)),
    );
    fastify.get(
      '/v1/models',
      inRequest((req, reply) => this.proxy.models(req, reply)),
    );
  }
}
