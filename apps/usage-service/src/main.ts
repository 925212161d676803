import { refuseUnsupportedNode } from '@keygate/platform/http/node-runtime';
refuseUnsupportedNode('usage-service');

import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
startTelemetry('usage-service');

import 'reflect-metadata';
import cors from '@fastify/cors';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { createHttpApp, exitOnStartupError, httpTimeouts, listen } from '@keygate/platform';

const bootstrap = async (): Promise<void> => {
  const { UsageServiceModule, usageServiceEnv } = await import('./usage-service.module.js');
  const app = await createHttpApp(UsageServiceModule, {
    port: usageServiceEnv.USAGE_SERVICE_PORT,
    timeouts: httpTimeouts(usageServiceEnv),
    configure: async (a) => {
      // The console (another origin: key-service's /console/) reads usage with its bearer token; no cookies.
      await a.register(cors, {
        origin: usageServiceEnv.CONSOLE_ORIGINS,
        methods: ['GET', 'POST', 'DELETE'],
        allowedHeaders: ['authorization', 'content-type'],
        exposedHeaders: ['content-disposition', 'x-request-id'],
        credentials: false,
        maxAge: 600,
      });
      const doc = new DocumentBuilder()
        .setTitle('keygate usage-service')
        .setDescription('Usage ledger, summaries and export, alerts, webhooks, key hygiene')
        .addBearerAuth()
        .build();
      SwaggerModule.setup('docs', a, SwaggerModule.createDocument(a, doc));
    },
  });
  await listen(app, usageServiceEnv.USAGE_SERVICE_PORT, 'usage-service');
};

bootstrap().catch(exitOnStartupError('usage-service'));
