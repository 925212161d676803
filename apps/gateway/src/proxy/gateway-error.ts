import type { FastifyReply } from 'fastify';
import type { UpstreamErrorResult } from './upstream-error';

// Every error the gateway answers, by code: one table says its HTTP status, its OpenAI `type` and its default
// message, so OpenAI SDKs surface it as they would OpenAI's own. The request path, the authenticator and the
// exception filter all throw GatewayError; nothing is thrown as a plain object.
export type GatewayErrorCode =
  // authentication and the key's state (auth/key-authenticator.ts)
  | 'invalid_api_key'
  | 'key_revoked'
  | 'key_expired'
  | 'key_suspended'
  | 'budget_exceeded'
  | 'budget_reserved'
  | 'auth_unavailable'
  // restrictions and admission (proxy.service.ts, admission/)
  | 'ip_not_allowed'
  | 'invalid_key_cooldown'
  | 'model_not_found'
  | 'rate_limit_tier_unknown'
  | 'rate_limit_exceeded'
  | 'concurrency_limit_exceeded'
  | 'rate_limiter_unavailable'
  | 'usage_backlog_full'
  // the request itself
  | 'invalid_request_body'
  | 'invalid_model'
  | 'invalid_json'
  | 'invalid_request'
  | 'request_too_large'
  | 'unsupported_media_type'
  | 'unknown_url'
  | 'method_not_allowed'
  | 'bad_request'
  | 'request_timeout'
  | 'headers_too_large'
  // the upstream (upstream-error.ts), after the route's fallbacks
  | 'no_upstream'
  | 'upstream_not_configured'
  | 'upstream_misconfigured'
  | 'upstream_timeout'
  | 'upstream_unavailable'
  | 'upstream_error'
  | 'upstream_auth_failed'
  | 'upstream_not_found'
  | 'upstream_rate_limited'
  | 'unsupported_parameter'
  | 'client_closed_request'
  // an upstream 4xx about the client's request: its status and (sanitised) code and message passed on
  | 'upstream_rejected'
  | 'internal_error';

interface Entry {
  // 'upstream': the status the upstream answered (upstream_rejected only).
  status: number | 'upstream';
  type: string;
  message: string;
}

const invalid = 'invalid_request_error';

// `satisfies` keeps it exhaustive: a code without its row, or a row without its code, does not compile.
const TABLE = {
  invalid_api_key: { status: 401, type: invalid, message: 'Incorrect API key provided.' },
  key_revoked: { status: 401, type: invalid, message: 'This API key has been revoked.' },
  key_expired: { status: 401, type: invalid, message: 'This API key has expired.' },
  key_suspended: { status: 403, type: 'permission_denied', message: 'This API key is suspended.' },
  budget_exceeded: {
    status: 429,
    type: 'rate_limit_exceeded',
    message: 'This API key has spent its budget.',
  },
  // Not spent: the rest is held by requests in flight, and may be free again when they settle (Retry-After).
  budget_reserved: {
    status: 429,
    type: 'rate_limit_exceeded',
    message: "The rest of this API key's budget is held by requests in flight; retry shortly.",
  },
  auth_unavailable: {
    status: 503,
    type: 'service_unavailable',
    message: 'The key store is temporarily unavailable; retry shortly.',
  },
  ip_not_allowed: {
    status: 403,
    type: 'permission_denied',
    message: 'Requests from this IP address are not allowed for this API key.',
  },
  invalid_key_cooldown: {
    status: 429,
    type: 'rate_limit_exceeded',
    message:
      'Too many requests with invalid API keys came from your network. Retry after the time in Retry-After.',
  },
  model_not_found: {
    status: 404,
    type: invalid,
    message: 'The model does not exist or you do not have access to it.',
  },
  rate_limit_tier_unknown: {
    status: 403,
    type: 'permission_denied',
    message:
      "This API key's rate-limit tier is not configured on this gateway; an administrator must update the key.",
  },
  rate_limit_exceeded: {
    status: 429,
    type: 'rate_limit_exceeded',
    message: 'Rate limit reached for this API key. Retry after the time in Retry-After.',
  },
  concurrency_limit_exceeded: {
    status: 429,
    type: 'rate_limit_exceeded',
    message: 'This API key has as many requests in flight as it may. Retry when one has finished.',
  },
  rate_limiter_unavailable: {
    status: 503,
    type: 'service_unavailable',
    message: 'The rate limiter is temporarily unavailable; retry shortly.',
  },
  usage_backlog_full: {
    status: 503,
    type: 'service_unavailable',
    message:
      'The gateway cannot record usage right now (its backlog of unsent usage events is full); retry shortly.',
  },
  invalid_request_body: { status: 400, type: invalid, message: 'The request body must be a JSON object.' },
  invalid_model: { status: 400, type: invalid, message: 'You must provide a model parameter.' },
  invalid_json: { status: 400, type: invalid, message: 'We could not parse the JSON body of your request.' },
  invalid_request: { status: 400, type: invalid, message: 'The request is invalid.' },
  request_too_large: { status: 413, type: invalid, message: 'The request body is too large.' },
  unsupported_media_type: {
    status: 415,
    type: 'api_error',
    message: 'The request body must be application/json.',
  },
  unknown_url: {
    status: 404,
    type: invalid,
    message: 'Unknown request URL. See the keygate gateway endpoints.',
  },
  method_not_allowed: { status: 405, type: 'api_error', message: 'Method not allowed for this URL.' },
  bad_request: { status: 400, type: invalid, message: 'malformed HTTP request' },
  request_timeout: { status: 408, type: 'api_error', message: 'the request did not arrive in time' },
  headers_too_large: { status: 431, type: 'api_error', message: 'request headers too large' },
  no_upstream: {
    status: 502,
    type: 'upstream_error',
    message: 'No upstream provider is available for this model.',
  },
  upstream_not_configured: {
    status: 502,
    type: 'upstream_error',
    message: 'The upstream provider for this model has no credential configured.',
  },
  upstream_misconfigured: {
    status: 502,
    type: 'upstream_error',
    message: 'The route target is misconfigured.',
  },
  upstream_timeout: {
    status: 504,
    type: 'upstream_error',
    message: 'The upstream provider did not answer in time.',
  },
  upstream_unavailable: {
    status: 502,
    type: 'upstream_error',
    message: 'The upstream provider could not be reached.',
  },
  upstream_error: { status: 502, type: 'upstream_error', message: 'The upstream provider failed.' },
  upstream_auth_failed: {
    status: 502,
    type: 'upstream_error',
    message: 'The upstream provider refused the gateway credential.',
  },
  upstream_not_found: {
    status: 502,
    type: 'upstream_error',
    message: 'The upstream provider does not know the configured model.',
  },
  upstream_rate_limited: {
    status: 429,
    type: 'rate_limit_exceeded',
    message: 'The upstream provider is rate limiting requests.',
  },
  unsupported_parameter: {
    status: 400,
    type: invalid,
    message: "A parameter is not supported by this route's provider.",
  },
  client_closed_request: { status: 499, type: 'api_error', message: 'The client closed the request.' },
  upstream_rejected: {
    status: 'upstream',
    type: invalid,
    message: 'The upstream provider rejected the request.',
  },
  internal_error: { status: 500, type: 'api_error', message: 'The gateway failed to handle this request.' },
} as const satisfies Record<GatewayErrorCode, Entry>;

// The OpenAI `type` of an upstream 4xx passed on, by its status (as OpenAI types them).
const TYPE_BY_STATUS: Record<number, string> = {
  400: invalid,
  401: invalid,
  403: 'permission_denied',
  404: invalid,
  413: invalid,
  429: 'rate_limit_exceeded',
};

// The codes the upstream layer itself gives (upstream-error.ts); any other code on an upstream error is the
// upstream's own, about the client's request.
const UPSTREAM_CODES = new Set<string>([
  'no_upstream',
  'upstream_not_configured',
  'upstream_misconfigured',
  'upstream_timeout',
  'upstream_unavailable',
  'upstream_error',
  'upstream_auth_failed',
  'upstream_not_found',
  'upstream_rate_limited',
  'unsupported_parameter',
  'client_closed_request',
] satisfies GatewayErrorCode[]);

export interface GatewayErrorOptions {
  message?: string; // instead of the table's: a fixed text, or an upstream's passed through sanitizeMessage
  param?: string | null;
  headers?: Record<string, string>;
  keyId?: string | null; // the key it concerns, when known: for the usage event and the span, never the answer
  status?: number; // upstream_rejected only: the upstream's 4xx
  wireCode?: string; // upstream_rejected only: the upstream's (sanitised) code
}

export class GatewayError extends Error {
  readonly status: number;
  readonly type: string;
  readonly param: string | null;
  readonly headers: Record<string, string> | undefined;
  readonly keyId: string | null;
  // What the client reads in error.code: the code itself, except for an upstream_rejected passed on.
  readonly wireCode: string;

  constructor(
    readonly code: GatewayErrorCode,
    opts: GatewayErrorOptions = {},
  ) {
    const entry: Entry = TABLE[code];
    super(opts.message ?? entry.message);
    this.name = 'GatewayError';
    this.status = entry.status === 'upstream' ? (opts.status ?? 400) : entry.status;
    this.type = entry.status === 'upstream' ? (TYPE_BY_STATUS[this.status] ?? 'api_error') : entry.type;
    this.param = opts.param ?? null;
    this.headers = opts.headers;
    this.keyId = opts.keyId ?? null;
    this.wireCode = (code === 'upstream_rejected' && opts.wireCode) || code;
  }

  /** The upstream layer's error value (after the route's fallbacks) as the gateway answers it. */
  static fromUpstream(e: UpstreamErrorResult): GatewayError {
    if (UPSTREAM_CODES.has(e.code) && TABLE[e.code as GatewayErrorCode].status === e.status)
      return new GatewayError(e.code as GatewayErrorCode, { message: e.message });
    // An upstream 4xx about the client's request (its code as the upstream named it, sanitised).
    return new GatewayError('upstream_rejected', { status: e.status, wireCode: e.code, message: e.message });
  }
}

export const openAiErrorBody = (e: GatewayError) => ({
  error: { message: e.message, type: e.type, param: e.param, code: e.wireCode },
});

export const sendGatewayError = (reply: FastifyReply, e: GatewayError): void => {
  if (e.headers) void reply.headers(e.headers);
  void reply.status(e.status).header('content-type', 'application/json').send(openAiErrorBody(e));
};
