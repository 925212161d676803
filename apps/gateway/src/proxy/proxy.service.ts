import type { ServerResponse } from 'node:http';
import { Injectable } from '@nestjs/common';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { jsonDepthExceeds, stepSpan, targetModel, type RoutesConfig } from '@keygate/platform';
import { admissionRejections, budgetClamps, requests, upstreamLatencyOf } from './proxy.metrics';

import { KeyAuthenticator, type AuthenticatedKey } from '../auth/key-authenticator';
import { Admission, type AdmissionPlan, type AdmissionResult, type CostAsk } from '../admission/admission';
import { admissionPlan } from '../auth/compiled-key';
import { BudgetGuard } from '../budget/budget-guard';
import { clampCompletion } from '../budget/cost-estimate';
import { clientIp, ipAllowed, parseCidrs } from '../auth/ip-rules';
import type { NetworkCooldown } from '../auth/network-cooldown';
import { admissionError, rateLimitHeaders } from '../rate-limit/rate-limiter';
import { answerWithin } from '../redis/answer-within';
import { UsageEmitter } from '../usage-events/usage-emitter';
import type { CredentialSource } from './credentials';
import { GatewayError, sendGatewayError } from './gateway-error';
import { newOutcome, readUsage, requestCompleted, type Outcome } from './outcome';
import { DONE_FRAME } from './sse';
import { UpstreamClient, UpstreamError, type UpstreamEndpoint, type UpstreamResult } from './upstream';

const tracer = trace.getTracer('keygate-gateway');

// A mid-stream upstream failure (UpstreamError from the iterator) or a bug: still an answer from the table.
const asGatewayError = (e: unknown): GatewayError => {
  if (e instanceof GatewayError) return e;
  if (e instanceof UpstreamError) return GatewayError.fromUpstream(e.toResult());
  return new GatewayError('internal_error');
};

// Resolves when the client's socket takes writes again, or is gone (then the abort signal says so).
const drained = (raw: ServerResponse): Promise<void> =>
  new Promise((resolve) => {
    const done = (): void => {
      raw.off('drain', done);
      raw.off('close', done);
      resolve();
    };
    raw.on('drain', done);
    raw.on('close', done);
  });

// Generous for chat messages and tool JSON schemas; far below what overflows the stack.
const MAX_BODY_DEPTH = 128;

// A key with a concurrency cap: its answer waits for its settlement's reply (ProxyService.settle).
const waitsForSettlement = (plan: AdmissionPlan | null): boolean => !!plan?.limit?.maxConcurrentRequests;

// How many REDIS_TIMEOUT_MS a budget-only key's admission may take before the request is served unchecked (admit).
const BUDGET_ADMISSION_WAITS = 4;

export interface ProxyOptions {
  routes: RoutesConfig;
  trustedProxies: string[];
  // REDIS_TIMEOUT_MS: the longest a limited key's request waits for its admission (a budget-only key's: four
  // times that), or an answer for its settlement.
  redisTimeoutMs: number;
}

// The request path: authenticate → restrictions → rate limit → upstream (with fallback) → usage event.
@Injectable()
export class ProxyService {
  private readonly trusted;

  constructor(
    private readonly auth: KeyAuthenticator,
    private readonly admission: Admission,
    private readonly upstream: UpstreamClient,
    private readonly credentials: CredentialSource,
    private readonly usage: UsageEmitter,
    private readonly budgets: BudgetGuard,
    private readonly cooldown: NetworkCooldown,
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

  clientIp(req: FastifyRequest): string | null {
    return clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.trusted);
  }

  // A network in an invalid-key cool-down is refused before its key is looked at; an authentication failure counts
  // towards its network's cool-down.
  async authorize(req: FastifyRequest, ip: string | null): Promise<AuthenticatedKey> {
    const wait = this.cooldown.refusal(ip);
    if (wait !== null)
      throw new GatewayError('invalid_key_cooldown', { headers: { 'retry-after': String(wait) } });
    const key = await this.auth.authenticate(this.presentedKey(req)).catch((e: unknown) => {
      if (e instanceof GatewayError) this.cooldown.failed(ip, e.code);
      throw e;
    });
    if (!key.ipOpen && !ipAllowed(ip, key.ipRules))
      throw new GatewayError('ip_not_allowed', { keyId: key.keyId });
    return key;
  }

  async models(req: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      const key = await this.authorize(req, this.clientIp(req));
      const data = [...key.routes]
        .filter((r) => this.options.routes.routes[r])
        .sort()
        .map((id) => ({ id, object: 'model', created: 0, owned_by: 'keygate' }));
      void reply.send({ object: 'list', data });
    } catch (e) {
      sendGatewayError(reply, asGatewayError(e));
    }
  }

  async handle(endpoint: UpstreamEndpoint, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    // Admission (issue 12 part 7): with no room left to record usage (buffer and journal full), nothing is served
    // unbilled. An admitted request holds its room until its usage event is emitted (finally below).
    if (!this.usage.admit()) {
      requests.inc({ endpoint, status: '503' });
      return sendGatewayError(
        reply,
        new GatewayError('usage_backlog_full', { headers: { 'retry-after': '5' } }),
      );
    }
    const started = performance.now();
    const outcome = newOutcome(String(req.id));
    const ip = this.clientIp(req);
    void reply.header('x-request-id', outcome.requestId);
    // The id a client sees in x-request-id finds this request's trace.
    trace.getActiveSpan()?.setAttribute('keygate.request.id', outcome.requestId);
    try {
      const key = await this.authorize(req, ip).catch((e: unknown) => {
        if (e instanceof GatewayError) outcome.keyId = e.keyId;
        throw e;
      });
      outcome.keyId = key.keyId;
      const body = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw new GatewayError('invalid_request_body');
      // Parsed fine, but re-serialised for the upstream call it would overflow the stack (a 502 otherwise).
      if (jsonDepthExceeds(body, MAX_BODY_DEPTH))
        throw new GatewayError('invalid_request_body', {
          message: `The request body is nested more than ${MAX_BODY_DEPTH} levels deep.`,
        });
      const model = (body as { model?: unknown }).model;
      if (typeof model !== 'string' || model.length === 0 || model.length > 256)
        throw new GatewayError('invalid_model', { param: 'model' });
      const route = this.options.routes.routes[model];
      // A route the key may not use looks exactly like one that does not exist.
      if (!route || !key.routes.has(model))
        throw new GatewayError('model_not_found', {
          message: `The model '${model.slice(0, 64)}' does not exist or you do not have access to it.`,
          param: 'model',
        });
      outcome.route = model;
      const stream = endpoint === 'chat' && (body as { stream?: unknown }).stream === true;
      outcome.streamed = stream;

      if (key.limit === undefined) throw new GatewayError('rate_limit_tier_unknown');
      let headers: Record<string, string> = {};
      let upstreamBody = body as Record<string, unknown>;
      const plan = admissionPlan(key, Date.now());
      if (Admission.needed(plan)) {
        const ask = Admission.budgeted(plan) ? this.budgets.ask(endpoint, upstreamBody, route) : undefined;
        const admitted = await this.admit(plan, outcome, ask);
        if (admitted) {
          headers = rateLimitHeaders(admitted);
          if (admitted.verdict !== 'admitted') {
            admissionRejections[admitted.verdict].inc();
            throw admissionError(admitted, headers);
          }
          // The budgets cannot pay for the answer the client allows: the provider is told to stop in time.
          if (ask && admitted.grantedTokens < ask.maxTokens) {
            upstreamBody = clampCompletion(upstreamBody, admitted.grantedTokens);
            headers['x-keygate-budget-clamped'] = String(admitted.grantedTokens);
            budgetClamps.inc();
          }
        }
        outcome.charge = plan;
      }

      const abort = new AbortController();
      reply.raw.on('close', () => {
        if (!reply.raw.writableFinished) abort.abort();
      });
      const result = await this.callWithFallback(endpoint, upstreamBody, route.name, abort.signal, outcome);
      if (result.kind === 'error') throw GatewayError.fromUpstream(result);
      if (result.kind === 'json') {
        outcome.status = result.status;
        readUsage(outcome, result.usage);
        if (waitsForSettlement(outcome.charge)) await this.settle(outcome);
        void reply
          .status(result.status)
          .headers(headers)
          .header('content-type', 'application/json')
          .send(result.body);
        void this.settle(outcome);
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
          let first = true;
          for await (const chunk of result.chunks) {
            if (abort.signal.aborted) break;
            // The usage is final once the upstream has ended: settled before the client reads the end.
            if (chunk === DONE_FRAME) await this.settle(readUsage(outcome, result.usage()));
            // Back-pressure: a slow reader holds the upstream stream, never the gateway's memory.
            if (!reply.raw.write(chunk)) await drained(reply.raw);
            // Node holds a response's writes until the next tick (it corks the socket), and the frames already
            // received follow in this tick: the first one (and the headers) leaves now, the rest together.
            if (first) {
              first = false;
              reply.raw.socket?.uncork();
            }
          }
        } finally {
          readUsage(outcome, result.usage());
          if (abort.signal.aborted) outcome.errorCode = 'client_disconnected';
          await this.settle(outcome);
          reply.raw.end();
        }
      }
    } catch (e) {
      const error = asGatewayError(e);
      outcome.status = error.status;
      outcome.errorCode = error.wireCode;
      await this.settle(outcome);
      if (!reply.sent && !reply.raw.headersSent) sendGatewayError(reply, error);
      else reply.raw.end();
    } finally {
      const latencyMs = Math.round(performance.now() - started);
      requests.inc({ endpoint, status: String(outcome.status) });
      this.usage.emit(requestCompleted(outcome, endpoint, ip, latencyMs));
    }
  }

  // The admission script (rate limits and budget in one round trip), in an auth-like span. Redis away, or not
  // answering in time: a key with a rate limit is refused (503), one with only a budget is served (null) — the
  // ledger's suspension still enforces its budget, only later. In time is REDIS_TIMEOUT_MS for a limited key and
  // BUDGET_ADMISSION_WAITS times that for a budget-only one: a Redis slowed by load answers within it, and a
  // request served unchecked could take its budget past the amount. Either way the request is settled once its
  // admission has run or failed, so what a slow Redis took for it late (a lease, holds) is given back.
  private admit(plan: AdmissionPlan, o: Outcome, ask: CostAsk | undefined): Promise<AdmissionResult | null> {
    return stepSpan(tracer, 'ratelimit.check', (span) => {
      span.setAttribute('keygate.key.id', o.keyId!);
      const admission = this.admission.admit(plan, o.requestId, ask, o.route!);
      const wait = this.options.redisTimeoutMs * (plan.limit ? 1 : BUDGET_ADMISSION_WAITS);
      return answerWithin(admission, wait)
        .then((d) => {
          span.setAttribute('keygate.ratelimit.allowed', d.verdict === 'admitted');
          return d;
        })
        .catch((e: unknown) => {
          span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
          o.charge = plan;
          o.lateAdmission = admission;
          if (!plan.limit) return null;
          throw new GatewayError('rate_limiter_unavailable');
        })
        .finally(() => span.end());
    });
  }

  // Settlement, once per admitted request, whatever ended it: the tokens the ledger will bill go to the token
  // limit, their cost to the budgets, and what the request held (its lease, its budget holds) is given back. A
  // client may send its next request the moment it has the answer, through another gateway, and Redis does not
  // order two connections' commands (a settlement written first can be served second): so for a key with a
  // concurrency cap the answer waits for the settlement's reply (at most REDIS_TIMEOUT_MS), and the next request
  // finds the lease back. Other keys' settlements are not waited for: what can lag behind the next request is a
  // token count or a budget hold, never a concurrency refusal. Theirs is written just after a JSON answer (in the
  // same turn: this gateway reads the client's next request after it), so the answer leaves without the write's
  // cost; an error's or a stream's is written before its last bytes.
  private settle(outcome: Outcome): Promise<void> | undefined {
    const plan = outcome.charge;
    if (!plan) return undefined;
    outcome.charge = null;
    const tokens = outcome.promptTokens + outcome.completionTokens;
    const nanos = Admission.budgeted(plan)
      ? this.budgets.costNanos(outcome.upstreamModel, outcome.promptTokens, outcome.completionTokens)
      : 0;
    const send = () =>
      this.admission.settle(plan, outcome.requestId, tokens, nanos, outcome.route!).catch(() => undefined);
    const settled = outcome.lateAdmission ? outcome.lateAdmission.then(send, send) : send();
    return waitsForSettlement(plan)
      ? answerWithin(settled, this.options.redisTimeoutMs).catch(() => undefined)
      : undefined;
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
      last = await stepSpan(tracer, 'proxy.upstream', async (span) => {
        if (span.isRecording())
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
      upstreamLatencyOf(
        provider.name,
        last.kind !== 'error' ? 'ok' : last.retryable ? 'failed' : 'rejected',
      ).observe((performance.now() - t0) / 1000);
      if (last.kind !== 'error' || !last.retryable || signal.aborted) return last;
    }
    return last;
  }
}
