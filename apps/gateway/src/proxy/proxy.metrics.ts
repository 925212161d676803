import { counter, histogram } from '@keygate/platform';

// The request path's metrics (docs/operations.md lists them).
export const requests = counter('keygate_gateway_requests_total', 'Gateway requests by endpoint and status', [
  'endpoint',
  'status',
]);
export const rateRejections = counter(
  'keygate_ratelimit_rejections_total',
  'Requests rejected by the rate limiter',
);
export const budgetRejections = counter(
  'keygate_budget_rejections_total',
  "Requests refused because their key's or group's budget could not pay for them",
);
export const budgetClamps = counter(
  'keygate_budget_clamps_total',
  'Requests sent upstream with their completion limit lowered to what the budget could pay for',
);
export const concurrencyRejections = counter(
  'keygate_concurrency_rejections_total',
  'Requests refused because their key had as many requests in flight as it may',
);
// outcome: `ok`; `failed` — 429, 5xx, timeout, refused credential: what makes a route fall back, a failing provider;
// `rejected` — the provider refused this request (a 4xx passed through to the client).
const upstreamLatency = histogram(
  'keygate_upstream_latency_seconds',
  'Upstream time to answer',
  ['provider', 'outcome'],
  [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
);
// Attribute sets bound once per provider and outcome: a record then allocates nothing. (A request's duration is
// keygate_http_request_duration_seconds, by route and status: the one request histogram.)
type UpstreamOutcome = 'ok' | 'failed' | 'rejected';
const upstreamLatencyBound: Record<UpstreamOutcome, Map<string, { observe(value: number): void }>> = {
  ok: new Map(),
  failed: new Map(),
  rejected: new Map(),
};
export const upstreamLatencyOf = (provider: string, outcome: UpstreamOutcome) => {
  const byProvider = upstreamLatencyBound[outcome];
  let bound = byProvider.get(provider);
  if (!bound) byProvider.set(provider, (bound = upstreamLatency.labels({ provider, outcome })));
  return bound;
};

// A refusal of the admission script, counted by what refused it.
export const admissionRejections = {
  rate_limited: rateRejections,
  concurrency_limited: concurrencyRejections,
  budget_exceeded: budgetRejections,
} as const;
