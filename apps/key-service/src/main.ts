import { refuseUnsupportedNode } from '@keygate/platform/http/node-runtime';
refuseUnsupportedNode('key-service');

import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
startTelemetry('key-service');

import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import {
  createHttpApp,
  exitOnStartupError,
  httpTimeouts,
  listen,
  strictValidationPipe,
} from '@keygate/platform';
import { defaultConsoleDir, serveConsole } from './console/console-static';
import { keyServiceGrpcOptions } from './grpc/grpc-options';
import { GITHUB_SECRET_SCANNING_PATH } from './leak-reports/github-secret-scanning.controller';
import { keepRawBody } from './leak-reports/raw-body.hook';

const bootstrap = async (): Promise<void> => {
  const { KeyServiceModule, keyServiceEnv } = await import('./key-service.module.js');
  const app = await createHttpApp(KeyServiceModule, {
    port: keyServiceEnv.KEY_SERVICE_HTTP_PORT,
    bodyLimitBytes: 256 * 1024,
    timeouts: httpTimeouts(keyServiceEnv),
    configure: async (a) => {
      a.useGlobalPipes(strictValidationPipe());
      keepRawBody(a.getHttpAdapter().getInstance(), [GITHUB_SECRET_SCANNING_PATH], 256 * 1024);
      const doc = new DocumentBuilder()
        .setTitle('keygate key-service')
        .setDescription('Management API: keys, groups, provider credentials, admin tokens, audit')
        .addBearerAuth()
        .build();
      SwaggerModule.setup('docs', a, SwaggerModule.createDocument(a, doc));
      const served = await serveConsole(a, {
        dir: keyServiceEnv.CONSOLE_DIR || defaultConsoleDir(),
        usageServiceUrl: keyServiceEnv.PUBLIC_USAGE_SERVICE_URL,
      });
      if (!served) new Logger('console').warn('no console build found: /console/ is not served');
    },
  });
  // Hybrid app: the gRPC controllers share the module's services with REST; gRPC is up before /health/ready.
  app.connectMicroservice(keyServiceGrpcOptions(keyServiceEnv.KEY_SERVICE_GRPC_PORT));
  await app.startAllMicroservices();
  await listen(app, keyServiceEnv.KEY_SERVICE_HTTP_PORT, 'key-service');
};

bootstrap().catch(exitOnStartupError('key-service'));
