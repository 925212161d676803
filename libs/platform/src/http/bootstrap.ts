import type { IncomingMessage } from 'node:http';
import {
  type ArgumentMetadata,
  BadRequestException,
  Logger as NestLogger,
  type INestApplication,
  type Type,
  ValidationPipe,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger } from 'nestjs-pino';
import { requestIdOf } from '../logging/logging.module';
import { rejectOversizedBodies, type OversizedBodyAnswer } from './body-limit.hook';
import {
  connectionLimits,
  DEFAULT_HTTP_TIMEOUTS,
  managementClientError,
  type ClientErrorBody,
  type HttpTimeouts,
} from './connection-limits';
import { managementInputProblem } from './json-depth';
import { transformHoldingPlainRecords } from './plain-record';
import { observeHttpRequests } from '../metrics/metrics.module';
import { stopTelemetry } from '../telemetry/telemetry';

export interface HttpBootstrapOptions {
  port: number;
  bodyLimitBytes?: number;
  // How a body over the limit is refused (default: the management API's error shape).
  oversizedBody?: OversizedBodyAnswer;
  timeouts?: HttpTimeouts;
  // How errors of Node's HTTP parser (431, malformed, smuggling-shaped) are answered (default: management shape).
  clientError?: ClientErrorBody;
  configure?: (app: NestFastifyApplication) => void | Promise<void>;
  // Fastify's request id (default: the client's X-Request-Id when well-formed, else a random one).
  genReqId?: (req: IncomingMessage) => string;
  // The HTTP server span made by a Fastify hook (with startTelemetry's ownSpans).
  serverSpans?: boolean;
}

class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const problem = managementInputProblem(value);
    const refuse = (message: string) => new BadRequestException({ code: 'VALIDATION_FAILED', message });
    if (problem) throw refuse(problem);
    return transformHoldingPlainRecords(
      metadata.metatype,
      value,
      (v) => super.transform(v, metadata),
      refuse,
    );
  }
}

// Strict input everywhere: unknown fields rejected, types converted only where declared.
export const strictValidationPipe = () =>
  new StrictValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
    validationError: { target: false, value: false },
  });

const managementTooLarge: OversizedBodyAnswer = (req, reply, limitBytes) =>
  void reply.status(413).send({
    error: {
      code: 'PAYLOAD_TOO_LARGE',
      message: `request body too large (limit ${limitBytes} bytes)`,
      requestId: String(req.id),
    },
  });

export const createHttpApp = async (
  module: Type,
  options: HttpBootstrapOptions,
): Promise<NestFastifyApplication> => {
  const bodyLimit = options.bodyLimitBytes ?? 1024 * 1024;
  const adapter = new FastifyAdapter({
    bodyLimit,
    genReqId: options.genReqId ?? ((req: IncomingMessage) => requestIdOf(req)),
    trustProxy: false,
    // A JSON key named __proto__ or constructor is data (key metadata), not an attack on the parser: the
    // validation pipe keeps it as data in free-form maps and refuses it anywhere else (plain-record.ts).
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    ...connectionLimits(
      options.timeouts ?? DEFAULT_HTTP_TIMEOUTS,
      options.clientError ?? managementClientError,
    ),
    // Fastify 5 answers a path parameter over maxParamLength (100 by default) itself, 414 in its own shape, before
    // any filter. The request line is already bounded by Node's header limit (16 KiB): ids of any length reach the
    // routes, which refuse them in the service's own error shape.
    routerOptions: { maxParamLength: 16 * 1024 },
  });
  // application/json only: Fastify's JSON parser stays, its text/plain one goes, and Nest's own parsers
  // (urlencoded among them) are never registered (bodyParser: false below). Anything else answers 415.
  adapter.getInstance().removeContentTypeParser('text/plain');
  observeHttpRequests(adapter.getInstance(), { serverSpans: options.serverSpans });
  rejectOversizedBodies(adapter.getInstance(), bodyLimit, options.oversizedBody ?? managementTooLarge);
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.enableShutdownHooks();
  await options.configure?.(app);
  return app;
};

export const listen = async (app: INestApplication, port: number, name: string): Promise<void> => {
  // '::' is dual-stack on Linux: IPv4 clients arrive as ::ffff:a.b.c.d, which the IP rules read as IPv4.
  await app.listen(port, '::');
  new NestLogger(name).log(`${name} listening on :${port}`);
  const stop = async () => {
    await stopTelemetry();
  };
  process.once('beforeExit', () => void stop());
};

export const exitOnStartupError = (name: string) => (error: unknown) => {
  // Configuration errors carry their own clear message; print it without a stack.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${name} failed to start: ${message}\n`);
  process.exit(1);
};
