// What a provider adapter is: it turns the client's OpenAI request into one HTTP request built from the
// route config alone, and turns the answer back into OpenAI's format. Pure functions and small state
// machines, so translation is tested without a socket; upstream.ts owns the sockets, timers and aborts.
import type { ProviderConfig, RouteTarget } from '@keygate/platform/config/routes-config';
import { targetMisconfigured } from './upstream-error';

export type UpstreamEndpoint = 'chat' | 'embeddings';

export interface UpstreamUsage {
  promptTokens: number;
  completionTokens: number;
}

export interface AdapterCall {
  endpoint: UpstreamEndpoint;
  body: Record<string, unknown>;
  target: RouteTarget;
  provider: ProviderConfig;
  credential: string;
}

export interface PreparedRequest {
  /** scheme://host[:port] — the pool key. */
  origin: string;
  /** Path and query, from config only. */
  path: string;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
}

/** Turns the upstream's SSE `data` payloads into OpenAI chat.completion.chunk frames. */
export interface StreamTranslator {
  /** Frames to send for one upstream event; throws UpstreamError on an error event. */
  onData(data: string): string[];
  /** Frames to send after the upstream's last event (ends with [DONE]); throws when the stream was cut. */
  end(): string[];
  usage(): UpstreamUsage;
}

export interface ProviderAdapter {
  /** Whether a 2xx JSON answer is already OpenAI's format: passed to the client as the provider's bytes. */
  passThrough: boolean;
  prepare(c: AdapterCall): PreparedRequest;
  /** A 2xx JSON answer → the OpenAI body (unused when passThrough) and its usage; throws UpstreamError when
   * unreadable. */
  fromJson(c: AdapterCall, payload: unknown): { body: unknown; usage: UpstreamUsage };
  streamTranslator(c: AdapterCall): StreamTranslator;
}

export const ZERO_USAGE: UpstreamUsage = { promptTokens: 0, completionTokens: 0 };

export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const count = (v: unknown): number =>
  typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0;

interface BaseUrl {
  origin: string;
  prefix: string;
  search: string;
}

// Base URLs come from routes.yaml: a handful, each parsed once (a URL parse per request was measurable).
const parsedBaseUrls = new Map<string, Readonly<BaseUrl>>();

const parse = (baseUrl: string): Readonly<BaseUrl> => {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw targetMisconfigured('the provider URL is invalid');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw targetMisconfigured('the provider URL must be http(s)');
  if (url.username || url.password) throw targetMisconfigured('the provider URL must not carry credentials');
  return Object.freeze({ origin: url.origin, prefix: url.pathname.replace(/\/+$/, ''), search: url.search });
};

/** The configured base URL split into the pool origin and a path prefix (no trailing slash). */
export const parseBaseUrl = (baseUrl: string): Readonly<BaseUrl> => {
  let parsed = parsedBaseUrls.get(baseUrl);
  if (!parsed) {
    parsed = parse(baseUrl); // an invalid one throws every time, and is not kept
    if (parsedBaseUrls.size < 1024) parsedBaseUrls.set(baseUrl, parsed);
  }
  return parsed;
};

/** One path segment from config (model, deployment), encoded so it can never add a segment or a query. */
export const pathSegment = (value: string | undefined, what: string): string => {
  if (!value) throw targetMisconfigured(`no ${what}`);
  if (value === '.' || value === '..') throw targetMisconfigured(`invalid ${what}`);
  return encodeURIComponent(value);
};

export const streamRequested = (body: Record<string, unknown>): boolean => body.stream === true;

/** Whether the client itself asked for the usage chunk (we always ask upstream; see openai.adapter.ts). */
export const clientWantsUsage = (body: Record<string, unknown>): boolean =>
  isObj(body.stream_options) && body.stream_options.include_usage === true;

export const jsonHeaders = (stream: boolean): Record<string, string> => ({
  'content-type': 'application/json',
  accept: stream ? 'text/event-stream' : 'application/json',
  'user-agent': 'keygate-gateway',
});
