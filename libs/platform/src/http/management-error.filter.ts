import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DEPENDENCY_UNAVAILABLE, isDependencyUnavailable } from '../errors/dependency-unavailable';

// An error with its stable code and HTTP status: what the filter answers.
export interface MappedError {
  code: string;
  status: number;
  message: string;
  details?: Record<string, unknown>;
}

export type ErrorMapper = (error: unknown) => MappedError | null;

const HTTP_CODES: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  412: 'VERSION_CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE',
  429: 'RATE_LIMITED',
  503: 'UNAVAILABLE',
};

const httpMessage = (e: HttpException): string => {
  const body = e.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  return Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : e.message;
};

// Management errors: { error: { code, message, requestId } } (DESIGN.md). Never a stack trace or a secret.
@Catch()
export class ManagementErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('errors');

  constructor(private readonly mapDomainError: ErrorMapper = () => null) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const ctx = host.switchToHttp();
    const reply = ctx.getResponse<FastifyReply>();
    const request = ctx.getRequest<FastifyRequest>();
    const coded = this.toCoded(exception);
    if (coded.status >= 500) this.logger.error({ err: exception, code: coded.code }, 'request failed');
    void reply.status(coded.status).send({
      error: {
        code: coded.code,
        message: coded.message,
        requestId: String(request.id),
        ...(coded.details ?? {}),
      },
    });
  }

  private toCoded(exception: unknown): MappedError {
    const mapped = this.mapDomainError(exception);
    if (mapped) return mapped;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const explicit = (exception.getResponse() as { code?: unknown }).code;
      return {
        status,
        code: typeof explicit === 'string' ? explicit : (HTTP_CODES[status] ?? 'ERROR'),
        message: httpMessage(exception),
      };
    }
    // Fastify's own errors (bad JSON, body too large) carry statusCode.
    const statusCode = (exception as { statusCode?: unknown })?.statusCode;
    if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
      return {
        status: statusCode,
        code: HTTP_CODES[statusCode] ?? 'BAD_REQUEST',
        message:
          statusCode === 413
            ? 'request body too large'
            : statusCode === 415
              ? 'the request body must be application/json'
              : 'malformed request body',
      };
    }
    return isDependencyUnavailable(exception)
      ? { status: HttpStatus.SERVICE_UNAVAILABLE, ...DEPENDENCY_UNAVAILABLE }
      : { status: HttpStatus.INTERNAL_SERVER_ERROR, code: 'INTERNAL', message: 'internal error' };
  }
}
