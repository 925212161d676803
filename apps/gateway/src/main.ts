import { refuseUnsupportedNode } from '@keygate/platform/http/node-runtime';
refuseUnsupportedNode('gateway');

import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
// The gateway makes its HTTP server span itself (observeHttpRequests), without instrumentation-http.
startTelemetry('gateway', process.env, { httpServerSpans: 'fastify' });

import 'reflect-metadata';
import { createHttpApp, exitOnStartupError, httpTimeouts, listen } from '@keygate/platform';
import { openAiError, sendOpenAiError } from './proxy/openai-error';

const bootstrap = async (): Promise<void> => {
  // Imported after telemetry so auto-instrumentation patches the modules it loads.
  const { GatewayModule, gatewayEnv } = await import('./gateway.module.js');
  const app = await createHttpApp(GatewayModule, {
    port: gatewayEnv.GATEWAY_PORT,
    bodyLimitBytes: gatewayEnv.GATEWAY_BODY_LIMIT_BYTES,
    timeouts: httpTimeouts(gatewayEnv),
    serverSpans: true,
    clientError: (status, code, message) => {
      const e = openAiError(status, code.toLowerCase(), message);
      return { error: { message: e.message, type: e.type, param: null, code: e.code } };
    },
    oversizedBody: (_req, reply, limitBytes) =>
      sendOpenAiError(
        reply,
        openAiError(413, 'request_too_large', `The request body is too large (limit ${limitBytes} bytes).`),
      ),
  });
  await listen(app, gatewayEnv.GATEWAY_PORT, 'gateway');
};

bootstrap().catch(exitOnStartupError('gateway'));
