// OpenAI and any OpenAI-compatible API: the client's body goes through nearly untouched, frames pass through
// as they came (no re-serialisation), only the few that may carry usage, an error or empty choices are parsed.
import {
  clientWantsUsage,
  count,
  isObj,
  jsonHeaders,
  parseBaseUrl,
  streamRequested,
  ZERO_USAGE,
  type AdapterCall,
  type PreparedRequest,
  type ProviderAdapter,
  type StreamTranslator,
  type UpstreamEndpoint,
  type UpstreamUsage,
} from './upstream-adapter';
import {
  targetMisconfigured,
  upstreamBadResponse,
  upstreamTruncated,
  fromStreamErrorEvent,
} from './upstream-error';
import type { ProviderKind } from '@keygate/platform/config/routes-config';
import { DONE_FRAME, sseFrame } from './sse';

export const openAiEndpointPath = (endpoint: UpstreamEndpoint): string =>
  endpoint === 'chat' ? '/chat/completions' : '/embeddings';

/**
 * The body sent upstream. `model` is the route target's (or removed, for Azure where the deployment in the
 * path decides): the client's value never reaches the provider. A streamed chat always asks for the usage
 * chunk, merged into the client's stream_options, so a streamed call is never counted as zero tokens.
 */
export const openAiUpstreamBody = (
  body: Record<string, unknown>,
  endpoint: UpstreamEndpoint,
  model: string | undefined,
): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...body };
  if (model === undefined) delete out.model;
  else out.model = model;
  if (endpoint === 'chat' && streamRequested(body)) {
    out.stream_options = { ...(isObj(body.stream_options) ? body.stream_options : {}), include_usage: true };
  }
  return out;
};

export const fromOpenAiUsage = (u: unknown): UpstreamUsage =>
  isObj(u)
    ? { promptTokens: count(u.prompt_tokens), completionTokens: count(u.completion_tokens) }
    : ZERO_USAGE;

export const fromOpenAiJson = (payload: unknown): { body: unknown; usage: UpstreamUsage } => {
  if (!isObj(payload)) throw upstreamBadResponse();
  return { body: payload, usage: fromOpenAiUsage(payload.usage) };
};

// Structural keys only: inside a JSON string a quote is escaped, so `"usage":{` cannot come from content.
const NEEDS_PARSE = /"(?:usage|error)"\s*:\s*\{|"choices"\s*:\s*\[\s*\]/;

/**
 * Choices documented here:
 * - The usage-only chunk (empty `choices`, `usage` set) that we forced is forwarded only when the client asked
 *   for include_usage itself: OpenAI never sends it otherwise, and clients that read `choices[0]` of every
 *   chunk would crash on it. Its usage is recorded either way. The `usage: null` that include_usage adds to
 *   every other chunk is left in place (clients ignore it; removing it would cost a re-serialisation).
 * - Azure's first chunk (empty `choices`, only `prompt_filter_results`) is dropped for the same reason: an
 *   OpenAI client never sees one.
 * - The stream must end with [DONE]; without it the upstream was cut, and the iterator throws.
 */
export class OpenAiStreamTranslator implements StreamTranslator {
  private current: UpstreamUsage = ZERO_USAGE;
  private done = false;

  constructor(
    private readonly wantsUsage: boolean,
    private readonly kind: ProviderKind,
    private readonly credential: string,
  ) {}

  onData(data: string): string[] {
    if (this.done) return [];
    if (data.trim() === '[DONE]') {
      this.done = true;
      return [];
    }
    if (!NEEDS_PARSE.test(data)) return [sseFrame(data)];
    let chunk: unknown;
    try {
      chunk = JSON.parse(data);
    } catch {
      return [sseFrame(data)]; // not ours to judge: passed on as it came
    }
    if (!isObj(chunk)) return [sseFrame(data)];
    if (isObj(chunk.error)) throw fromStreamErrorEvent(this.kind, chunk, this.credential);
    if (isObj(chunk.usage)) this.current = fromOpenAiUsage(chunk.usage);
    if (Array.isArray(chunk.choices) && chunk.choices.length === 0) {
      return isObj(chunk.usage) && this.wantsUsage ? [sseFrame(data)] : [];
    }
    return [sseFrame(data)];
  }

  end(): string[] {
    if (!this.done) throw upstreamTruncated();
    return [DONE_FRAME];
  }

  usage(): UpstreamUsage {
    return this.current;
  }
}

export const openAiAdapter: ProviderAdapter = {
  passThrough: true,
  prepare(c: AdapterCall): PreparedRequest {
    if (!c.target.model) throw targetMisconfigured('no model');
    const { origin, prefix, search } = parseBaseUrl(c.provider.baseUrl);
    const stream = c.endpoint === 'chat' && streamRequested(c.body);
    return {
      origin,
      path: `${prefix}${openAiEndpointPath(c.endpoint)}${search}`,
      headers: { ...jsonHeaders(stream), authorization: `Bearer ${c.credential}` },
      body: JSON.stringify(openAiUpstreamBody(c.body, c.endpoint, c.target.model)),
      stream,
    };
  },
  fromJson: (_c, payload) => fromOpenAiJson(payload),
  streamTranslator: (c) =>
    new OpenAiStreamTranslator(clientWantsUsage(c.body), c.provider.type, c.credential),
};
