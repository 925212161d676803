import type { RateLimit, RouteLimit } from '@keygate/contracts';
import type { Tier } from '@keygate/platform';
import type { AdmissionResult } from '../admission/admission';
import { budgetError } from '../budget/budget-guard';
import { GatewayError } from '../proxy/gateway-error';

// A key's rate limit as the gateway enforces it: its own numbers, else its tier's (routes.yaml). The limiter
// itself is the admission script (admission/admission.ts): a sliding 60-second window in Redis.
export interface EffectiveLimit {
  requestsPerMinute: number;
  tokensPerMinute: number;
  // Present when the key caps its requests in flight (the key's own number; tiers do not set one).
  maxConcurrentRequests?: number;
  // Present when the key limits some routes (by route name), on top of the numbers above.
  routes?: Record<string, RouteLimit>;
}

// null: the key has no limit. undefined: it names a tier this gateway does not know (removed from routes.yaml
// since), which the gateway refuses rather than serve unlimited.
export const effectiveLimit = (
  rl: RateLimit | null,
  tiers: Record<string, Tier>,
): EffectiveLimit | null | undefined => {
  if (!rl) return null;
  if (rl.tier !== undefined && !Object.hasOwn(tiers, rl.tier)) return undefined;
  const tier = rl.tier === undefined ? undefined : tiers[rl.tier];
  const rpm = rl.requestsPerMinute ?? tier?.requestsPerMinute ?? 0;
  const tpm = rl.tokensPerMinute ?? tier?.tokensPerMinute ?? 0;
  const concurrent = rl.maxConcurrentRequests ?? 0;
  const routes = rl.routes && Object.keys(rl.routes).length > 0 ? rl.routes : undefined;
  if (!rpm && !tpm && !concurrent && !routes) return null;
  return {
    requestsPerMinute: rpm,
    tokensPerMinute: tpm,
    ...(concurrent > 0 ? { maxConcurrentRequests: concurrent } : {}),
    ...(routes ? { routes } : {}),
  };
};

export const rateLimitHeaders = (d: AdmissionResult): Record<string, string> => {
  const h: Record<string, string> = {};
  if (!d.limit) return h;
  if (d.limit.requestsPerMinute) {
    h['x-ratelimit-limit-requests'] = String(d.limit.requestsPerMinute);
    h['x-ratelimit-remaining-requests'] = String(Math.max(0, d.remainingRequests));
    h['x-ratelimit-reset-requests'] = `${Math.max(0, d.resetRequestsMs)}ms`;
  }
  if (d.limit.tokensPerMinute) {
    h['x-ratelimit-limit-tokens'] = String(d.limit.tokensPerMinute);
    h['x-ratelimit-remaining-tokens'] = String(Math.max(0, d.remainingTokens));
    h['x-ratelimit-reset-tokens'] = `${Math.max(0, d.resetTokensMs)}ms`;
  }
  if (d.verdict === 'rate_limited') h['retry-after'] = String(Math.max(1, Math.ceil(d.retryAfterMs / 1000)));
  return h;
};

/** The answer to a request admission refused: which limit, cap or budget, in the table's terms. */
export const admissionError = (d: AdmissionResult, headers: Record<string, string>): GatewayError => {
  if (d.verdict === 'budget_exceeded') return budgetError(d.refusal!, headers);
  if (d.verdict === 'concurrency_limited')
    return new GatewayError('concurrency_limit_exceeded', {
      message:
        `This API key may have ${d.limit?.maxConcurrentRequests} requests in flight at once and has that many ` +
        'already; retry when one has finished.',
      headers: { ...headers, 'retry-after': '1' },
    });
  const r = d.routeLimited;
  if (!r) return new GatewayError('rate_limit_exceeded', { headers });
  const per = [
    r.requestsPerMinute && `${r.requestsPerMinute} requests`,
    r.tokensPerMinute && `${r.tokensPerMinute} tokens`,
  ];
  return new GatewayError('rate_limit_exceeded', {
    message:
      `Rate limit reached for requests to ${r.route} on this API key (${per.filter(Boolean).join(', ')} per ` +
      'minute). Retry after the time in Retry-After.',
    headers,
  });
};
