import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
startTelemetry('gateway');

import 'reflect-metadata';
import { createHttpApp, exitOnStartupError, listen } from '@keygate/platform';
import { rejectOversizedBodies } from './proxy/body-limit.hook';

const bootstrap = async (): Promise<void> => {
  // Imported after telemetry so auto-instrumentation patches the modules it loads.
  const { GatewayModule, gatewayEnv } = await import('./gateway.module');
  const app = await createHttpApp(GatewayModule, {
    port: gatewayEnv.GATEWAY_PORT,
    bodyLimitBytes: gatewayEnv.GATEWAY_BODY_LIMIT_BYTES,
    configure: (a) =>
      rejectOversizedBodies(a.getHttpAdapter().getInstance(), gatewayEnv.GATEWAY_BODY_LIMIT_BYTES),
  });
  await listen(app, gatewayEnv.GATEWAY_PORT, 'gateway');
};

bootstrap().catch(exitOnStartupError('gateway'));
