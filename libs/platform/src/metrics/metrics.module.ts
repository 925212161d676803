import { Controller, Get, Global, Header, Module, type OnApplicationShutdown } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import type { FastifyInstance } from 'fastify';
import { stopTelemetry } from '../telemetry/telemetry';
import { histogram, metricsText, PROMETHEUS_CONTENT_TYPE } from './meter';

export { counter, gauge, histogram, metricsText, type Counter, type Gauge, type Histogram } from './meter';

@Controller('metrics')
class MetricsController {
  @Get()
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  metrics(): Promise<string> {
    return metricsText();
  }
}

// Flushes spans and metrics while the app closes (Nest's shutdown hooks end the process with a signal,
// so `beforeExit` never fires).
class TelemetryShutdown implements OnApplicationShutdown {
  async onApplicationShutdown(): Promise<void> {
    await stopTelemetry();
  }
}

@Global()
@Module({ controllers: [MetricsController], providers: [TelemetryShutdown] })
export class MetricsModule {}

// Request rate, errors and duration of every HTTP service, per route template (never the raw URL: no ids
// or query strings in label values) and status. One histogram: its _count is the request rate.
const httpDuration = histogram(
  'keygate_http_request_duration_seconds',
  'HTTP requests by method, route template and status',
  ['method', 'route', 'status'],
  [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
);

// Registered on the Fastify instance before Nest adds its routes. 'close' fires for finished, aborted and
// hijacked (streamed) responses alike. With tracing on, it also gives the HTTP server span its route: Fastify has
// no instrumentation of its own, and `POST /v1/keys/:id` reads better in a trace list than `POST`.
export const observeHttpRequests = (fastify: FastifyInstance): void => {
  fastify.addHook('onRequest', (req, reply, done) => {
    const t0 = performance.now();
    // routeOptions is a getter that builds a new object on every read: once per request.
    const template = req.routeOptions.url;
    const route = template ?? 'unmatched';
    const span = trace.getActiveSpan();
    if (span?.isRecording() && template) {
      span.setAttribute('http.route', route);
      span.updateName(`${req.method} ${route}`);
    }
    reply.raw.once('close', () => {
      httpDuration.observe(
        { method: req.method, route, status: reply.raw.statusCode },
        (performance.now() - t0) / 1000,
      );
    });
    done();
  });
};
