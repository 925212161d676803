import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
startTelemetry('key-service');

import 'reflect-metadata';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import {
  createHttpApp,
  exitOnStartupError,
  httpTimeouts,
  listen,
  strictValidationPipe,
} from '@keygate/platform';
import { keyServiceGrpcOptions } from './grpc/grpc-options';

const bootstrap = async (): Promise<void> => {
  const { KeyServiceModule, keyServiceEnv } = await import('./key-service.module');
  const app = await createHttpApp(KeyServiceModule, {
    port: keyServiceEnv.KEY_SERVICE_HTTP_PORT,
    bodyLimitBytes: 256 * 1024,
    timeouts: httpTimeouts(keyServiceEnv),
    configure: (a) => {
      a.useGlobalPipes(strictValidationPipe());
      const doc = new DocumentBuilder()
        .setTitle('keygate key-service')
        .setDescription('Management API: keys, groups, provider credentials, admin tokens, audit')
        .addBearerAuth()
        .build();
      SwaggerModule.setup('docs', a, SwaggerModule.createDocument(a, doc));
    },
  });
  // Hybrid app: the gRPC controllers share the module's services with REST; gRPC is up before /health/ready.
  app.connectMicroservice(keyServiceGrpcOptions(keyServiceEnv.KEY_SERVICE_GRPC_PORT));
  await app.startAllMicroservices();
  await listen(app, keyServiceEnv.KEY_SERVICE_HTTP_PORT, 'key-service');
};

bootstrap().catch(exitOnStartupError('key-service'));
