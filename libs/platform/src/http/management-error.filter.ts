import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';

// An error that already knows its stable code and HTTP status (domain errors map themselves through this).
export interface CodedError {
  code: string;
  status: number;
  message: string;
  details?: Record<string, unknown>;
}

export type ErrorMapper = (error: unknown) => CodedError | null;

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

  private toCoded(exception: unknown): CodedError {
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
    const dependencyDown = isDependencyUnavailable(exception);
    return dependencyDown
      ? { status: HttpStatus.SERVICE_UNAVAILABLE, code: 'DEPENDENCY_UNAVAILABLE', message: dependencyDown }
      : { status: HttpStatus.INTERNAL_SERVER_ERROR, code: 'INTERNAL', message: 'internal error' };
  }
}

// A store that does not answer is a 503 with a clear message, not a 500. PostgreSQL going away shows up in many
// shapes depending on the moment (refused, reset, shut down mid-query, a pooled client that lost its socket), and
// TypeORM wraps some of them (driverError): the whole family, wherever in the chain, is a dependency outage.
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000', // connection_exception
  '08001',
  '08003',
  '08004',
  '08006',
  '53300', // too_many_connections
]);
const UNAVAILABLE_MESSAGE =
  /Connection terminated|ECONNREFUSED|ECONNRESET|timeout exceeded when trying to connect|not queryable|Client was closed|terminating connection|database system is (shutting down|starting up|in recovery mode)/i;

const isDependencyUnavailable = (e: unknown, depth = 0): string | null => {
  if (!e || typeof e !== 'object' || depth > 4) return null;
  const { code, message, driverError, cause } = e as {
    code?: unknown;
    message?: unknown;
    driverError?: unknown;
    cause?: unknown;
  };
  if (
    (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) ||
    (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message))
  )
    return 'a storage dependency is unavailable; nothing was changed, retry later';
  return isDependencyUnavailable(driverError, depth + 1) ?? isDependencyUnavailable(cause, depth + 1);
};
