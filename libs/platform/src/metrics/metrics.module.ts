import { Controller, Get, Global, Header, Module, type OnApplicationShutdown } from '@nestjs/common';
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context } from '@opentelemetry/api';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { headSample } from '../telemetry/head-sampling';
import { stopTelemetry, tracingActive } from '../telemetry/telemetry';
import { histogram, metricsText, PROMETHEUS_CONTENT_TYPE } from './meter';

export { counter, gauge, histogram, metricsText, type Counter, type Gauge, type Histogram } from './meter';

let source: () => Promise<string> = metricsText;

/** What GET /metrics serves: this process's metrics, unless (cluster workers) a whole service's. */
export const setMetricsSource = (fn: () => Promise<string>): void => {
  source = fn;
};

@Controller('metrics')
class MetricsController {
  @Get()
  @Header('Content-Type', PROMETHEUS_CONTENT_TYPE)
  metrics(): Promise<string> {
    return source();
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

const tracer = trace.getTracer('keygate-http');
// Probes and scrapes are not traffic: no spans for them (as telemetry.ts tells instrumentation-http).
const QUIET_PATHS = /^\/(health|metrics)(\/|\?|$)/;
const serverContexts = new WeakMap<IncomingMessage, Context>();

/**
 * The context a handler runs in when its service makes its own server spans (`serverSpans` below): the request's
 * server span, child of the caller's traceparent; undefined for a request that is not traced (no span was made).
 */
export const requestContext = (req: FastifyRequest): Context | undefined => serverContexts.get(req.raw);

export interface ObserveOptions {
  // Make the HTTP server span here rather than through instrumentation-http (telemetry.ts, `ownSpans`).
  // The span is not made active for Fastify's own hooks: the handler enters it through requestContext().
  serverSpans?: boolean;
}

// Registered on the Fastify instance before Nest adds its routes. 'close' fires for finished, aborted and
// hijacked (streamed) responses alike. With tracing on, it also gives the HTTP server span its route: Fastify has
// no instrumentation of its own, and `POST /v1/keys/:id` reads better in a trace list than `POST`.
export const observeHttpRequests = (fastify: FastifyInstance, opts: ObserveOptions = {}): void => {
  const ownSpans = opts.serverSpans === true && tracingActive();
  // One frozen attribute object per (method, route, status): the SDK hashes a frozen set once, not on every record.
  const labelSets = new Map<string, Readonly<{ method: string; route: string; status: number }>>();
  const labelsOf = (method: string, route: string, status: number) => {
    const key = `${method} ${route} ${status}`;
    let labels = labelSets.get(key);
    if (!labels) labelSets.set(key, (labels = Object.freeze({ method, route, status })));
    return labels;
  };
  fastify.addHook('onRequest', (req, reply, done) => {
    const t0 = performance.now();
    // routeOptions is a getter that builds a new object on every read: once per request.
    const template = req.routeOptions.url;
    const route = template ?? 'unmatched';
    const url = req.raw.url ?? '/';
    // The trace the request is in: its caller's (a traceparent), else one of its own when head sampling picks it
    // (none at all when it does not: head-sampling.ts).
    const parent =
      !ownSpans || QUIET_PATHS.test(url)
        ? null
        : req.headers.traceparent === undefined
          ? headSample()
          : propagation.extract(ROOT_CONTEXT, req.headers);
    const span = !ownSpans
      ? trace.getActiveSpan()
      : parent &&
        tracer.startSpan(
          template ? `${req.method} ${route}` : req.method,
          {
            kind: SpanKind.SERVER,
            attributes: {
              'http.request.method': req.method,
              'url.path': url.split('?', 1)[0],
              ...(template ? { 'http.route': route } : {}),
            },
          },
          parent,
        );
    if (ownSpans && span) serverContexts.set(req.raw, trace.setSpan(ROOT_CONTEXT, span));
    else if (span?.isRecording() && template) {
      span.setAttribute('http.route', route);
      span.updateName(`${req.method} ${route}`);
    }
    reply.raw.once('close', () => {
      const status = reply.raw.statusCode;
      httpDuration.observe(labelsOf(req.method, route, status), (performance.now() - t0) / 1000);
      if (ownSpans && span) {
        span.setAttribute('http.response.status_code', status);
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
      }
    });
    done();
  });
};
