import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { openAiError, sendOpenAiError, type OpenAiError } from './openai-error';

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
    sendOpenAiError(reply, this.toOpenAi(exception, requestId));
  }

  private toOpenAi(e: unknown, requestId: unknown): OpenAiError {
    if (e instanceof HttpException) {
      const status = e.getStatus();
      if (status === 404)
        return openAiError(404, 'unknown_url', 'Unknown request URL. See the keygate gateway endpoints.');
      if (status === 405) return openAiError(405, 'method_not_allowed', 'Method not allowed for this URL.');
      if (status === 400)
        return openAiError(400, 'invalid_json', 'We could not parse the JSON body of your request.');
      return openAiError(
        status,
        'invalid_request',
        status < 500 ? e.message : 'The gateway failed to handle this request.',
      );
    }
    const code = (e as { code?: unknown })?.code;
    const statusCode = (e as { statusCode?: unknown })?.statusCode;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE' || statusCode === 413)
      return openAiError(413, 'request_too_large', 'The request body is too large.');
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || statusCode === 415)
      return openAiError(415, 'unsupported_media_type', 'The request body must be application/json.');
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500)
      return openAiError(400, 'invalid_json', 'We could not parse the JSON body of your request.');
    this.logger.error({ err: e, requestId }, 'unhandled gateway error');
    return openAiError(500, 'internal_error', 'The gateway failed to handle this request.');
  }
}
