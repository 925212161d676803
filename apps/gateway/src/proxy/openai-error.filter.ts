import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GatewayError, sendGatewayError } from './gateway-error';

// Whatever fails outside the proxy's own handling (unknown path, malformed JSON, a body over the limit, a bug)
// still answers in OpenAI's error shape, never with a stack trace.
@Catch()
export class OpenAiErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent || reply.raw.headersSent) return;
    // The gateway has no per-request log context (see loggingModule): the line names its request itself.
    const requestId = reply.getHeader('x-request-id') ?? host.switchToHttp().getRequest<FastifyRequest>().id;
    sendGatewayError(reply, this.toGatewayError(exception, requestId));
  }

  private toGatewayError(e: unknown, requestId: unknown): GatewayError {
    if (e instanceof GatewayError) return e;
    if (e instanceof HttpException) {
      const status = e.getStatus();
      if (status === 404) return new GatewayError('unknown_url');
      if (status === 405) return new GatewayError('method_not_allowed');
      if (status === 400) return new GatewayError('invalid_json');
      if (status === 413) return new GatewayError('request_too_large');
      if (status === 415) return new GatewayError('unsupported_media_type');
      // Nest raises nothing else on the gateway's routes; anything that does is ours to fix.
      this.logger.error({ err: e, requestId }, 'unexpected HTTP exception');
      return new GatewayError(status < 500 ? 'invalid_request' : 'internal_error');
    }
    const code = (e as { code?: unknown })?.code;
    const statusCode = (e as { statusCode?: unknown })?.statusCode;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || statusCode === 413)
      return new GatewayError('request_too_large');
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || statusCode === 415)
      return new GatewayError('unsupported_media_type');
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500)
      return new GatewayError('invalid_json');
    this.logger.error({ err: e, requestId }, 'unhandled gateway error');
    return new GatewayError('internal_error');
  }
}
