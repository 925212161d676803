import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
startTelemetry('usage-service');

import 'reflect-metadata';
import { createHttpApp, exitOnStartupError, httpTimeouts, listen } from '@keygate/platform';

const bootstrap = async (): Promise<void> => {
  const { UsageServiceModule, usageServiceEnv } = await import('./usage-service.module');
  const app = await createHttpApp(UsageServiceModule, {
    port: usageServiceEnv.USAGE_SERVICE_PORT,
    timeouts: httpTimeouts(usageServiceEnv),
  });
  await listen(app, usageServiceEnv.USAGE_SERVICE_PORT, 'usage-service');
};

bootstrap().catch(exitOnStartupError('usage-service'));
