import { refuseUnsupportedNode } from '@keygate/platform/http/node-runtime';
refuseUnsupportedNode('usage-service');

import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
startTelemetry('usage-service');

import 'reflect-metadata';
import { createHttpApp, exitOnStartupError, listen } from '@keygate/platform';

const bootstrap = async (): Promise<void> => {
  const { UsageServiceModule, usageServiceEnv } = await import('./usage-service.module.js');
  const app = await createHttpApp(UsageServiceModule, { port: usageServiceEnv.USAGE_SERVICE_PORT });
  await listen(app, usageServiceEnv.USAGE_SERVICE_PORT, 'usage-service');
};

bootstrap().catch(exitOnStartupError('usage-service'));
