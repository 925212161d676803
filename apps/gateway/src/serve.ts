import { refuseUnsupportedNode } from '@keygate/platform/http/node-runtime';
refuseUnsupportedNode('gateway');

import { startTelemetry } from '@keygate/platform/telemetry/telemetry';
// The gateway makes its spans itself (observeHttpRequests' server span, one per request step), without library
// instrumentation.
startTelemetry('gateway', process.env, { ownSpans: true });

import cluster from 'node:cluster';
import 'reflect-metadata';
import { workerMetrics } from '@keygate/platform/cluster/cluster-metrics';
import {
  createHttpApp,
  exitOnStartupError,
  httpTimeouts,
  listen,
  metricsText,
  newRequestId,
  setMetricsSource,
} from '@keygate/platform';
import { WORKER_READY } from './workers';
import { GatewayError, openAiErrorBody, sendGatewayError } from './proxy/gateway-error';
import { warmTokenizers } from './budget/cost-estimate';

// One of GATEWAY_WORKERS (workers.ts): GET /metrics answers for all of them.
if (cluster.isWorker) setMetricsSource(workerMetrics(metricsText));

const bootstrap = async (): Promise<void> => {
  // Imported after telemetry so auto-instrumentation patches the modules it loads.
  const { GatewayModule, gatewayEnv } = await import('./gateway.module.js');
  const app = await createHttpApp(GatewayModule, {
    port: gatewayEnv.GATEWAY_PORT,
    bodyLimitBytes: gatewayEnv.GATEWAY_BODY_LIMIT_BYTES,
    timeouts: httpTimeouts(gatewayEnv),
    serverSpans: true,
    // One id per request, ours (never the client's): the usage ledger's dedupe key and the limiter's entry.
    genReqId: newRequestId,
    // Node's HTTP parser refused the request (400, 408, 431): its status names the code.
    clientError: (status) =>
      openAiErrorBody(
        new GatewayError(
          status === 431 ? 'headers_too_large' : status === 408 ? 'request_timeout' : 'bad_request',
        ),
      ),
    oversizedBody: (_req, reply, limitBytes) =>
      sendGatewayError(
        reply,
        new GatewayError('request_too_large', {
          message: `The request body is too large (limit ${limitBytes} bytes).`,
        }),
      ),
  });
  await listen(app, gatewayEnv.GATEWAY_PORT, 'gateway');
  if (cluster.isWorker) process.send?.({ kind: WORKER_READY });
  setImmediate(warmTokenizers);
};

bootstrap().catch(exitOnStartupError('gateway'));
