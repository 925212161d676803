// Upstream failures as values. Every message here is either fixed text or an upstream 4xx message passed
// through `sanitizeMessage`: nothing from a network error (hosts, ports, paths) and never a credential.
import type { ProviderKind } from '@keygate/platform/config/routes-config';

export interface UpstreamErrorResult {
  kind: 'error';
  status: number;
  retryable: boolean;
  code: string;
  message: string;
}

/** Thrown by the adapters and by a stream's iterator once the response has started (status 200 sent). */
export class UpstreamError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }

  toResult(): UpstreamErrorResult {
    return {
      kind: 'error',
      status: this.status,
      retryable: this.retryable,
      code: this.code,
      message: this.message,
    };
  }
}

export const upstreamTimeout = (): UpstreamError =>
  new UpstreamError(504, 'upstream_timeout', 'The upstream provider did not answer in time.', true);

export const upstreamUnavailable = (): UpstreamError =>
  new UpstreamError(502, 'upstream_unavailable', 'The upstream provider could not be reached.', true);

export const upstreamTruncated = (): UpstreamError =>
  new UpstreamError(502, 'upstream_unavailable', 'The upstream provider ended the response early.', true);

export const upstreamBadResponse = (): UpstreamError =>
  new UpstreamError(
    502,
    'upstream_error',
    'The upstream provider sent a response the gateway cannot read.',
    true,
  );

// 499 as nginx uses it: nobody will read this answer, the code only labels the usage event.
export const clientClosed = (): UpstreamError =>
  new UpstreamError(499, 'client_closed_request', 'The client closed the request.', false);

// A route target the gateway cannot call: the next target may be fine, so it is retryable.
export const targetMisconfigured = (why: string): UpstreamError =>
  new UpstreamError(502, 'upstream_misconfigured', `The route target is misconfigured: ${why}.`, true);

const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'ETIMEDOUT',
]);

/** Maps what undici threw (connection refused, reset, our own aborts) to a result. */
export const fromException = (
  err: unknown,
  state: { timedOut: boolean; clientAborted: boolean },
): UpstreamError => {
  if (err instanceof UpstreamError) return err;
  if (state.clientAborted) return clientClosed();
  if (state.timedOut) return upstreamTimeout();
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && TIMEOUT_CODES.has(code)) return upstreamTimeout();
  // ECONNREFUSED, ECONNRESET, ENOTFOUND, UND_ERR_SOCKET ("other side closed") and anything unexpected.
  return upstreamUnavailable();
};

// Secrets an upstream message may quote back: its own key (OpenAI prints a masked one), Google API keys,
// keygate keys, bearer tokens, and account identifiers (OpenAI rate-limit messages name the organization).
const SECRET_PATTERNS = [
  /\bsk-[A-Za-z0-9_*.-]{4,}/g,
  /\bAIza[0-9A-Za-z_-]{10,}/g,
  /\bkg_(?:live|test)_[0-9A-Za-z]+/g,
  /\bBearer\s+\S+/gi,
  /\b(?:org|proj)[-_][A-Za-z0-9]{6,}/g,
];
const MAX_MESSAGE = 1000;

export const sanitizeMessage = (text: string, credential: string): string => {
  let out = text;
  if (credential.length >= 4) out = out.split(credential).join('[redacted]');
  for (const p of SECRET_PATTERNS) out = out.replace(p, '[redacted]');
  // eslint-disable-next-line no-control-regex -- stripping control characters is the point
  out = out.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return out.length > MAX_MESSAGE ? `${out.slice(0, MAX_MESSAGE)}…` : out;
};

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// OpenAI { error: { message, type, code } }, Azure { error: { code: "DeploymentNotFound", message } },
// Gemini { error: { code: 400, message, status: "INVALID_ARGUMENT" } } (in an array on some stream endpoints).
const errorFields = (payload: unknown): { message?: string; code?: string } => {
  const root = Array.isArray(payload) ? payload[0] : payload;
  if (!isObj(root)) return {};
  const err = isObj(root.error) ? root.error : root;
  const message =
    typeof err.message === 'string' ? err.message : typeof root.error === 'string' ? root.error : undefined;
  const code = [err.code, err.status, err.type].find(
    (c): c is string => typeof c === 'string' && /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(c),
  );
  return { message, code: code && snakeCase(code) };
};

const snakeCase = (s: string): string =>
  s.includes('_') || s === s.toLowerCase() || s === s.toUpperCase()
    ? s.toLowerCase()
    : s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();

const CLIENT_CODES: Record<number, string> = {
  400: 'invalid_request_error',
  409: 'conflict',
  413: 'request_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable_entity',
};

/**
 * A non-2xx upstream answer. 429, 5xx and anything unexpected (a 3xx: redirects are never followed) let the
 * caller fall back to the next target. So do 401/403/404: the gateway alone chose the credential, the URL and
 * the model, so they mean this target is misconfigured, not that the client erred — passing "invalid API key"
 * through would make the client blame its own keygate key. Other 4xx are the client's request: not retryable,
 * the upstream message passed on, sanitised.
 */
export const fromUpstreamStatus = (
  kind: ProviderKind,
  status: number,
  payload: unknown,
  credential: string,
): UpstreamError => {
  const { message, code } = errorFields(payload);
  // Gemini answers a wrong API key with 400 INVALID_ARGUMENT "API key not valid".
  const geminiBadKey = kind === 'gemini' && status === 400 && /api[ _-]?key/i.test(message ?? '');
  if (status === 401 || status === 403 || geminiBadKey)
    return new UpstreamError(
      502,
      'upstream_auth_failed',
      'The upstream provider refused the gateway credential.',
      true,
    );
  if (status === 404)
    return new UpstreamError(
      502,
      'upstream_not_found',
      'The upstream provider does not know the configured model.',
      true,
    );
  if (status === 408) return upstreamTimeout();
  if (status === 429)
    return new UpstreamError(
      429,
      'upstream_rate_limited',
      'The upstream provider is rate limiting requests.',
      true,
    );
  if (status >= 400 && status < 500) {
    const safeCode = code && !/^\d+$/.test(code) ? code : (CLIENT_CODES[status] ?? 'invalid_request_error');
    const text = message ? sanitizeMessage(message, credential) : '';
    return new UpstreamError(
      status,
      safeCode,
      text || `The upstream provider rejected the request (${status}).`,
      false,
    );
  }
  if (status >= 300 && status < 400)
    return new UpstreamError(502, 'upstream_error', 'The upstream provider answered with a redirect.', true);
  return new UpstreamError(502, 'upstream_error', `The upstream provider failed (${status}).`, true);
};

/** An `{"error": ...}` event inside a 200 stream (OpenAI and Gemini both do this on a late failure). */
export const fromStreamErrorEvent = (
  kind: ProviderKind,
  payload: unknown,
  credential: string,
): UpstreamError => {
  const root = isObj(payload) && isObj(payload.error) ? payload.error : {};
  const status = typeof root.code === 'number' && root.code >= 400 && root.code < 600 ? root.code : 500;
  return fromUpstreamStatus(kind, status, payload, credential);
};
