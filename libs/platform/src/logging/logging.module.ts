import type { IncomingMessage } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { LoggerModule } from 'nestjs-pino';
import { requestIdFrom } from '../http/request-id';
import { scrubSecrets } from './secrets';

export { scrubSecrets } from './secrets';

// Headers that carry secrets are never logged, in any service. (The req serializer below keeps no header
// at all; this list guards anything that logs a raw request object some other way.)
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["api-key"]',
  'req.headers["x-goog-api-key"]',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
];

export const traceFields = (): Record<string, string> => {
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
};

export const requestIdOf = (req: IncomingMessage): string => requestIdFrom(req.headers['x-request-id']);

// Type, code, message and stack only: an error's other enumerable fields (a client's config, a driver's
// query parameters, a response body) are where secrets and prompts hide. pino-http hands this serializer the
// standard serializer's plain-object rendering of the error rather than the Error itself: both are read the same.
export const serializeError = (e: unknown): Record<string, unknown> => {
  if (typeof e !== 'object' || e === null) return { message: scrubSecrets(String(e)) };
  const err = e as { type?: unknown; code?: unknown; message?: unknown; stack?: unknown };
  const type = e instanceof Error ? e.constructor.name : typeof err.type === 'string' ? err.type : 'Object';
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? scrubSecrets(v) : undefined);
  return {
    type,
    ...(typeof err.code === 'string' || typeof err.code === 'number' ? { code: err.code } : {}),
    message: text(err.message) ?? '',
    stack: text(err.stack),
  };
};

// requestLines=false (the gateway): no per-request logging middleware at all. pino-http's child logger and its
// AsyncLocalStorage scope cost every request tens of microseconds for lines the gateway does not write; its usage
// events are the request log, and the few lines it writes during a request name the request id themselves.
export const loggingModule = (service: string, level: string, requestLines = true) =>
  LoggerModule.forRoot({
    // Every route, named explicitly: nestjs-pino 5's default pattern ('{/*splat}') matches no route under
    // @nestjs/platform-fastify 12, which left the services without request lines.
    forRoutes: requestLines ? [{ path: '{*splat}', method: RequestMethod.ALL }] : [],
    pinoHttp: {
      level,
      name: service,
      autoLogging: requestLines && {
        // Probes and scrapes every few seconds would drown the request lines.
        // originalUrl: the middleware runner strips the mount path from url while the middleware runs.
        ignore: (req: IncomingMessage & { originalUrl?: string }) =>
          /^\/(health|metrics)(\/|\?|$)/.test(req.originalUrl ?? req.url ?? ''),
      },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      // trace_id/span_id on every line written inside a span (always inside a request when tracing is on).
      mixin: traceFields,
      genReqId: (req) => requestIdOf(req),
      customProps: (req) => ({ requestId: (req as IncomingMessage & { id?: unknown }).id }),
      hooks: {
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) {
            if (typeof args[i] === 'string') args[i] = scrubSecrets(args[i] as string);
          }
          method.apply(this, args as Parameters<typeof method>);
        },
      },
      serializers: {
        // The URL only, no query string: nothing a client typed into it reaches the logs.
        req: (req: { id: unknown; method: string; url: string }) => ({
          id: req.id,
          method: req.method,
          url: req.url.split('?')[0],
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
        err: serializeError,
      },
    },
  });
