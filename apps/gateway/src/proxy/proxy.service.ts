import { Injectable } from '@nestjs/common';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { type Budget, type RequestCompletedData } from '@keygate/contracts';
import {
  counter,
  histogram,
  jsonDepthExceeds,
  newRequestId,
  targetModel,
  type RoutesConfig,
} from '@keygate/platform';
import { AuthError, KeyAuthenticator, type AuthenticatedKey } from '../auth/key-authenticator';
import { BudgetGuard } from '../budget/budget-guard';
import { clientIp, ipAllowed, parseCidrs } from '../auth/ip-rules';
import {
  effectiveLimit,
  RateLimiter,
  rateLimitHeaders,
  type EffectiveLimit,
} from '../rate-limit/rate-limiter';
import { UsageEmitter } from '../usage-events/usage-emitter';
import type { CredentialSource } from './credentials';
import { openAiError, sendOpenAiError, USAGE_BACKLOG_FULL, type OpenAiError } from './openai-error';
import { UpstreamClient, UpstreamError, type UpstreamEndpoint, type UpstreamResult } from './upstream';

const requests = counter('keygate_gateway_requests_total', 'Gateway requests by endpoint and status', [
  'endpoint',
  'status',
]);
const duration = histogram(
  'keygate_gateway_request_duration_seconds',
  'Gateway request duration',
  ['endpoint'],
  [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
);
const rateRejections = counter('keygate_ratelimit_rejections_total', 'Requests rejected by the rate limiter');
const budgetRejections = counter(
  'keygate_budget_rejections_total',
  'Requests refused because their key had spent its budget for the period',
);
const PER_PERIOD = { day: 'daily', week: 'weekly', month: 'monthly' } as const;
// outcome: `ok`; `failed` — 429, 5xx, timeout, refused credential: what makes a route fall back, a failing provider;
// `rejected` — the provider refused this request (a 4xx passed through to the client).
const upstreamLatency = histogram(
  'keygate_upstream_latency_seconds',
  'Upstream time to answer',
  ['provider', 'outcome'],
  [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
);
const tracer = trace.getTracer('keygate-gateway');

// Generous for chat messages and tool JSON schemas; far below what overflows the stack.
const MAX_BODY_DEPTH = 128;

const AUTH_STATUS: Record<AuthError['code'], number> = {
  invalid_api_key: 401,
  key_revoked: 401,
  key_expired: 401,
  key_suspended: 403,
  budget_exceeded: 429,
  auth_unavailable: 503,
};

export interface ProxyOptions {
  routes: RoutesConfig;
  trustedProxies: string[];
}

// What a request admitted past its limits owes once it ends.
interface Charge {
  keyId: string;
  limit: EffectiveLimit | null;
  budget: Budget | null;
}

interface Outcome {
  // Generated here, never taken from the client: it is the ledger's dedupe key and the limiter's entry.
  requestId: string;
  status: number;
  errorCode: string | null;
  route: string | null;
  provider: string | null;
  upstreamModel: string | null;
  promptTokens: number;
  completionTokens: number;
  streamed: boolean;
  keyId: string | null;
}

// The request path: authenticate → restrictions → rate limit → upstream (with fallback) → usage event.
@Injectable()
export class ProxyService {
  private readonly trusted;

  constructor(
    private readonly auth: KeyAuthenticator,
    private readonly limiter: RateLimiter,
    private readonly upstream: UpstreamClient,
    private readonly credentials: CredentialSource,
    private readonly usage: UsageEmitter,
    private readonly budgets: BudgetGuard,
    private readonly options: ProxyOptions,
  ) {
    this.trusted = parseCidrs(options.trustedProxies);
  }

  presentedKey(req: FastifyRequest): string | null {
    const h = req.headers;
    const bearer =
      typeof h.authorization === 'string' ? /^Bearer\s+(.+)$/i.exec(h.authorization)?.[1] : undefined;
    const key = bearer ?? h['api-key'] ?? h['x-goog-api-key'];
    return typeof key === 'string' ? key.trim() : null;
  }

  async authorize(req: FastifyRequest): Promise<{ key: AuthenticatedKey; ip: string | null }> {
    const ip = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.trusted);
    const key = await this.auth.authenticate(this.presentedKey(req));
    if (!ipAllowed(ip, key.ipRules))
      throw openAiError(
        403,
        'ip_not_allowed',
        'Requests from this IP address are not allowed for this API key.',
      );
    return { key, ip };
  }

  async models(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      const { key } = await this.authorize(req);
      const data = [...key.routes]
        .filter((r) => this.options.routes.routes[r])
        .sort()
        .map((id) => ({ id, object: 'model', created: 0, owned_by: 'keygate' }));
      void reply.send({ object: 'list', data });
    } catch (e) {
      sendOpenAiError(reply, this.toOpenAiError(e));
    }
  }

  async handle(endpoint: UpstreamEndpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Admission (issue 12 part 7): with no room left to record usage (buffer and journal full), nothing is served
    // unbilled. An admitted request holds its room until its usage event is emitted (finally below).
    if (!this.usage.admit()) {
      requests.inc({ endpoint, status: '503' });
      return sendOpenAiError(reply, USAGE_BACKLOG_FULL);
    }
    const started = performance.now();
    const outcome: Outcome = {
      requestId: newRequestId(),
      status: 200,
      errorCode: null,
      route: null,
      provider: null,
      upstreamModel: null,
      promptTokens: 0,
      completionTokens: 0,
      streamed: false,
      keyId: null,
    };
    let ip: string | null = null;
    let charge: Charge | undefined;
    void reply.header('x-request-id', outcome.requestId);
    // The id a client sees in x-request-id finds this request's trace.
    trace.getActiveSpan()?.setAttribute('keygate.request.id', outcome.requestId);
    try {
      const authorized = await this.authorize(req).catch((e: unknown) => {
        if (e instanceof AuthError) outcome.keyId = e.keyId;
        throw e;
      });
      ip = authorized.ip;
      const key = authorized.key;
      outcome.keyId = key.keyId;
      const body = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw openAiError(400, 'invalid_request_body', 'The request body must be a JSON object.');
      // Parsed fine, but re-serialised for the upstream call it would overflow the stack (a 502 otherwise).
      if (jsonDepthExceeds(body, MAX_BODY_DEPTH))
        throw openAiError(
          400,
          'invalid_request_body',
          `The request body is nested more than ${MAX_BODY_DEPTH} levels deep.`,
        );
      const model = (body as { model?: unknown }).model;
      if (typeof model !== 'string' || model.length === 0 || model.length > 256)
        throw openAiError(400, 'invalid_model', 'You must provide a model parameter.', { param: 'model' });
      const route = this.options.routes.routes[model];
      // A route the key may not use looks exactly like one that does not exist.
      if (!route || !key.routes.has(model))
        throw openAiError(
          404,
          'model_not_found',
          `The model '${model.slice(0, 64)}' does not exist or you do not have access to it.`,
          { param: 'model' },
        );
      outcome.route = model;
      const stream = endpoint === 'chat' && (body as { stream?: unknown }).stream === true;
      outcome.streamed = stream;

      const limit = effectiveLimit(key.doc.rateLimit, this.options.routes.tiers);
      if (limit === undefined)
        throw openAiError(
          403,
          'rate_limit_tier_unknown',
          "This API key's rate-limit tier is not configured on this gateway; an administrator must update the key.",
        );
      let headers: Record<string, string> = {};
      if (limit) {
        const decision = await tracer
          .startActiveSpan('ratelimit.check', (span) => {
            span.setAttribute('keygate.key.id', key.keyId);
            return this.limiter
              .check(key.keyId, limit, outcome.requestId)
              .then((d) => {
                span.setAttribute('keygate.ratelimit.allowed', d.allowed);
                return d;
              })
              .catch((e: unknown) => {
                span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
                throw e;
              })
              .finally(() => span.end());
          })
          .catch(() => {
            throw openAiError(
              503,
              'rate_limiter_unavailable',
              'The rate limiter is temporarily unavailable; retry shortly.',
            );
          });
        headers = rateLimitHeaders(decision);
        if (!decision.allowed) {
          rateRejections.inc();
          throw openAiError(
            429,
            'rate_limit_exceeded',
            'Rate limit reached for this API key. Retry after the time in Retry-After.',
            { headers },
          );
        }
      }

      // Fails open: with Redis away the ledger's suspension still enforces the budget, only later.
      const budget = key.doc.budget;
      charge = { keyId: key.keyId, limit, budget };
      if (budget && (await this.budgets.exceeded(key.keyId, budget).catch(() => false))) {
        budgetRejections.inc();
        throw openAiError(
          429,
          'budget_exceeded',
          `This API key has spent its ${PER_PERIOD[budget.period]} budget of ${budget.amountUsd} USD.`,
          { headers },
        );
      }

      const abort = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const result = await this.callWithFallback(
        endpoint,
        body as Record<string, unknown>,
        route.name,
        abort.signal,
        outcome,
      );
      if (result.kind === 'error') throw openAiError(result.status, result.code, result.message);
      if (result.kind === 'json') {
        outcome.status = result.status;
        outcome.promptTokens = result.usage.promptTokens;
        outcome.completionTokens = result.usage.completionTokens;
        void reply.status(result.status).headers(headers).send(result.body);
      } else {
        reply.hijack();
        reply.raw.writeHead(200, {
          ...headers,
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          'x-request-id': outcome.requestId,
        });
        try {
          for await (const chunk of result.chunks) {
            if (abort.signal.aborted) break;
            reply.raw.write(chunk);
          }
        } finally {
          const usage = result.usage();
          outcome.promptTokens = usage.promptTokens;
          outcome.completionTokens = usage.completionTokens;
          if (abort.signal.aborted) outcome.errorCode = 'client_disconnected';
          reply.raw.end();
        }
      }
    } catch (e) {
      const error = this.toOpenAiError(e);
      outcome.status = error.status;
      outcome.errorCode = error.code;
      if (!reply.sent && !reply.raw.headersSent) sendOpenAiError(reply, error);
      else reply.raw.end();
    } finally {
      // Whatever ended the request (a stream cut short, a client gone, an error mid-stream), the tokens the
      // ledger will bill are charged to the limiter and the budget counter too.
      if (charge) this.settle(charge, outcome);
      const latencyMs = Math.round(performance.now() - started);
      requests.inc({ endpoint, status: String(outcome.status) });
      duration.observe({ endpoint }, latencyMs / 1000);
      this.usage.emit(this.usageEvent(req, endpoint, outcome, ip, latencyMs));
    }
  }

  private settle({ keyId, limit, budget }: Charge, outcome: Outcome): void {
    const tokens = outcome.promptTokens + outcome.completionTokens;
    if (tokens === 0) return;
    if (limit) void this.limiter.chargeTokens(keyId, limit, tokens, outcome.requestId).catch(() => undefined);
    if (budget)
      void this.budgets
        .charge(keyId, budget, outcome.upstreamModel, outcome.promptTokens, outcome.completionTokens)
        .catch(() => undefined);
  }

  private async callWithFallback(
    endpoint: UpstreamEndpoint,
    body: Record<string, unknown>,
    routeName: string,
    signal: AbortSignal,
    outcome: Outcome,
  ): Promise<UpstreamResult> {
    const route = this.options.routes.routes[routeName];
    let last: UpstreamResult = {
      kind: 'error',
      status: 502,
      retryable: false,
      code: 'no_upstream',
      message: 'No upstream provider is available for this model.',
    };
    for (const [attempt, target] of route.targets.entries()) {
      const provider = this.options.routes.providers[target.provider];
      const credential = this.credentials.resolve(provider);
      outcome.provider = provider.name;
      outcome.upstreamModel = targetModel(target);
      if (!credential) {
        last = {
          kind: 'error',
          status: 502,
          retryable: true,
          code: 'upstream_not_configured',
          message: 'The upstream provider for this model has no credential configured.',
        };
        continue;
      }
      const t0 = performance.now();
      last = await tracer.startActiveSpan('proxy.upstream', async (span) => {
        span.setAttributes({
          'keygate.provider': provider.name,
          'keygate.route': routeName,
          'keygate.model': targetModel(target),
          'keygate.attempt': attempt,
          'keygate.fallback': attempt > 0,
        });
        try {
          const result = await this.upstream.call({
            endpoint,
            body,
            target,
            provider,
            credential,
            timeoutMs: route.timeoutMs,
            signal,
          });
          span.setAttribute('http.response.status_code', result.status);
          if (result.kind === 'error') {
            span.setAttribute('error.type', result.code);
            span.setStatus({ code: SpanStatusCode.ERROR, message: result.code });
          } else span.setAttribute('keygate.streamed', result.kind === 'stream');
          return result;
        } finally {
          span.end();
        }
      });
      upstreamLatency.observe(
        {
          provider: provider.name,
          outcome: last.kind !== 'error' ? 'ok' : last.retryable ? 'failed' : 'rejected',
        },
        (performance.now() - t0) / 1000,
      );
      if (last.kind !== 'error' || !last.retryable || signal.aborted) return last;
    }
    return last;
  }

  private toOpenAiError(e: unknown): OpenAiError {
    if (e instanceof AuthError) return openAiError(AUTH_STATUS[e.code], e.code, e.message);
    if (e instanceof UpstreamError) return openAiError(e.status, e.code, e.message);
    if (typeof e === 'object' && e !== null && 'status' in e && 'code' in e && 'type' in e)
      return e as OpenAiError;
    return openAiError(500, 'internal_error', 'The gateway failed to handle this request.');
  }

  private usageEvent(
    req: FastifyRequest,
    endpoint: UpstreamEndpoint,
    o: Outcome,
    ip: string | null,
    latencyMs: number,
  ): RequestCompletedData {
    const rejectedBeforeUpstream = o.provider === null;
    return {
      requestId: o.requestId,
      keyId: o.keyId,
      route: o.route,
      provider: o.provider,
      upstreamModel: o.upstreamModel,
      endpoint,
      status: o.status,
      outcome:
        o.status < 400 && !o.errorCode ? 'success' : rejectedBeforeUpstream ? 'rejected' : 'upstream_error',
      errorCode: o.errorCode,
      promptTokens: o.promptTokens,
      completionTokens: o.completionTokens,
      streamed: o.streamed,
      latencyMs,
      clientIp: ip,
      time: new Date().toISOString(),
    };
  }
}
