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
import { managementInputProblem } from './json-depth';
import { observeHttpRequests } from '../metrics/metrics.module';
import { stopTelemetry } from '../telemetry/telemetry';

export interface HttpBootstrapOptions {
  port: number;
  bodyLimitBytes?: number;
  // How a body over the limit is refused (default: the management API's error shape).
  oversizedBody?: OversizedBodyAnswer;
  configure?: (app: NestFastifyApplication) => void | Promise<void>;
}

class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const problem = managementInputProblem(value);
    if (problem) throw new BadRequestException({ code: 'VALIDATION_FAILED', message: problem });
    return super.transform(value, metadata);
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
    genReqId: (req: IncomingMessage) => requestIdOf(req),
    trustProxy: false,
    // Fastify 5 answers a path parameter over maxParamLength (100 by default) itself, 414 in its own shape, before
    // any filter. The request line is already bounded by Node's header limit (16 KiB): ids of any length reach the
    // routes, which refuse them in the service's own error shape.
    routerOptions: { maxParamLength: 16 * 1024 },
  });
  observeHttpRequests(adapter.getInstance());
  rejectOversizedBodies(adapter.getInstance(), bodyLimit, options.oversizedBody ?? managementTooLarge);
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, { bufferLogs: true });
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
