// Google Gemini (Generative Language API): OpenAI chat ⇄ generateContent / streamGenerateContent?alt=sse,
// embeddings ⇄ embedContent / batchEmbedContents (gemini-embeddings.ts). Text only: a request this
// translation cannot express faithfully (tools, images, audio) is refused before any call, as a retryable 400
// so the caller can try the route's next target, which may support it.
import { randomUUID } from 'node:crypto';
import {
  clientWantsUsage,
  count,
  isObj,
  parseBaseUrl,
  pathSegment,
  streamRequested,
  jsonHeaders,
  type AdapterCall,
  type PreparedRequest,
  type ProviderAdapter,
  type StreamTranslator,
  type UpstreamUsage,
} from './upstream-adapter';
import { DONE_FRAME, sseFrame } from './sse';
import { fromGeminiEmbeddings, toGeminiEmbeddings } from './gemini-embeddings';
import {
  fromStreamErrorEvent,
  upstreamBadResponse,
  upstreamTruncated,
  UpstreamError,
} from './upstream-error';

type Json = Record<string, unknown>;
type OpenAiFinish = 'stop' | 'length' | 'content_filter';

const unsupported = (what: string): UpstreamError =>
  new UpstreamError(400, 'unsupported_parameter', `${what} is not supported by this route's provider.`, true);
const invalid = (what: string): UpstreamError => new UpstreamError(400, 'invalid_request_error', what, false);

const UNSUPPORTED_FIELDS = ['tools', 'functions', 'function_call', 'audio', 'modalities', 'prediction'];
const UNSUPPORTED_ROLES = new Set(['tool', 'function']);

const textParts = (content: unknown, where: string): Json[] => {
  if (typeof content === 'string') return [{ text: content }];
  if (content === null || content === undefined) return [];
  if (!Array.isArray(content)) throw invalid(`${where}.content must be a string or an array of parts.`);
  return content.map((p, i) => {
    if (isObj(p) && (p.type === 'text' || p.type === undefined) && typeof p.text === 'string')
      return { text: p.text };
    throw unsupported(
      `${where}.content[${i}]: a ${isObj(p) && typeof p.type === 'string' ? p.type : 'non-text'} part`,
    );
  });
};

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

const generationConfig = (body: Json): Json => {
  const stop =
    typeof body.stop === 'string'
      ? [body.stop]
      : Array.isArray(body.stop)
        ? body.stop.filter((s) => typeof s === 'string')
        : undefined;
  const format = isObj(body.response_format) ? body.response_format : undefined;
  const schema =
    format?.type === 'json_schema' && isObj(format.json_schema) ? format.json_schema.schema : undefined;
  const n = num(body.n);
  const config: Json = {
    temperature: num(body.temperature),
    topP: num(body.top_p),
    maxOutputTokens: num(body.max_completion_tokens) ?? num(body.max_tokens),
    stopSequences: stop && stop.length > 0 ? stop : undefined,
    candidateCount: n !== undefined && n > 1 ? n : undefined,
    presencePenalty: num(body.presence_penalty),
    frequencyPenalty: num(body.frequency_penalty),
    seed: num(body.seed),
    responseMimeType:
      format?.type === 'json_object' || format?.type === 'json_schema' ? 'application/json' : undefined,
    responseJsonSchema: isObj(schema) ? schema : undefined,
  };
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined));
};

/** OpenAI chat body → Gemini GenerateContentRequest. System (and developer) messages become systemInstruction. */
export const toGeminiChat = (body: Json): Json => {
  for (const field of UNSUPPORTED_FIELDS) {
    const v = body[field];
    if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
      throw unsupported(`\`${field}\``);
  }
  if (!Array.isArray(body.messages)) throw invalid('`messages` must be an array.');
  const system: Json[] = [];
  const contents: Json[] = [];
  body.messages.forEach((m, i) => {
    const where = `messages[${i}]`;
    if (!isObj(m)) throw invalid(`${where} must be an object.`);
    if (typeof m.role === 'string' && UNSUPPORTED_ROLES.has(m.role))
      throw unsupported(`the \`${m.role}\` role`);
    if (m.role === 'assistant' && (m.tool_calls !== undefined || m.function_call !== undefined))
      throw unsupported('an assistant tool call');
    const parts = textParts(m.content, where);
    if (m.role === 'system' || m.role === 'developer') system.push(...parts);
    else if (m.role === 'user' || m.role === 'assistant') {
      // An empty turn is dropped: Gemini refuses a content without parts.
      if (parts.length > 0) contents.push({ role: m.role === 'assistant' ? 'model' : 'user', parts });
    } else throw invalid(`${where}.role must be system, developer, user or assistant.`);
  });
  const config = generationConfig(body);
  return {
    contents,
    ...(system.length > 0 ? { systemInstruction: { parts: system } } : {}),
    ...(Object.keys(config).length > 0 ? { generationConfig: config } : {}),
  };
};

export const mapFinishReason = (reason: unknown): OpenAiFinish | null => {
  switch (reason) {
    case undefined:
    case null:
    case 'FINISH_REASON_UNSPECIFIED':
      return null;
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
      return 'content_filter';
    default:
      return 'stop'; // STOP, and OTHER / LANGUAGE / MALFORMED_FUNCTION_CALL: the answer simply ended
  }
};

/** Thinking models report their thoughts apart; they are billed as output, so they count as completion. */
export const fromGeminiUsage = (meta: unknown): UpstreamUsage =>
  isObj(meta)
    ? {
        promptTokens: count(meta.promptTokenCount) + count(meta.toolUsePromptTokenCount),
        completionTokens: count(meta.candidatesTokenCount) + count(meta.thoughtsTokenCount),
      }
    : { promptTokens: 0, completionTokens: 0 };

const openAiUsage = (u: UpstreamUsage) => ({
  prompt_tokens: u.promptTokens,
  completion_tokens: u.completionTokens,
  total_tokens: u.promptTokens + u.completionTokens,
});

// Thought summaries (`thought: true`) are not part of the answer.
const candidateText = (candidate: Json): string =>
  isObj(candidate.content) && Array.isArray(candidate.content.parts)
    ? candidate.content.parts
        .map((p) => (isObj(p) && p.thought !== true && typeof p.text === 'string' ? p.text : ''))
        .join('')
    : '';

const candidatesOf = (payload: Json): Json[] =>
  Array.isArray(payload.candidates) ? payload.candidates.filter(isObj) : [];

// A prompt Gemini blocks comes back as 200 without candidates; Azure OpenAI answers the same case with
// 400 content_filter, which OpenAI clients already understand.
const promptBlocked = (payload: Json): UpstreamError | undefined =>
  isObj(payload.promptFeedback) &&
  typeof payload.promptFeedback.blockReason === 'string' &&
  candidatesOf(payload).length === 0
    ? new UpstreamError(
        400,
        'content_filter',
        "The prompt was blocked by the provider's content filter.",
        false,
      )
    : undefined;

export interface ChunkIdentity {
  id: string;
  created: number;
  model: string;
}

export const newIdentity = (model: string, responseId?: unknown): ChunkIdentity => ({
  id: `chatcmpl-${typeof responseId === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(responseId) ? responseId : randomUUID().replace(/-/g, '')}`,
  created: Math.floor(Date.now() / 1000),
  model,
});

/** Gemini GenerateContentResponse → OpenAI chat.completion. */
export const fromGeminiChat = (payload: unknown, model: string): { body: Json; usage: UpstreamUsage } => {
  if (!isObj(payload)) throw upstreamBadResponse();
  const blocked = promptBlocked(payload);
  if (blocked) throw blocked;
  const usage = fromGeminiUsage(payload.usageMetadata);
  const { id, created } = newIdentity(model, payload.responseId);
  const choices = candidatesOf(payload).map((c, i) => ({
    index: typeof c.index === 'number' ? c.index : i,
    message: { role: 'assistant', content: candidateText(c), refusal: null },
    logprobs: null,
    finish_reason: mapFinishReason(c.finishReason) ?? 'stop',
  }));
  return {
    body: { id, object: 'chat.completion', created, model, choices, usage: openAiUsage(usage) },
    usage,
  };
};

/**
 * Gemini SSE events → OpenAI chunks: per candidate a role chunk first, then one chunk per text delta, then a
 * chunk with the finish reason; after the upstream's last event the usage chunk (only when the client asked
 * for include_usage, as OpenAI does — see openai.adapter.ts) and [DONE]. Gemini repeats a cumulative
 * usageMetadata on every event: the last one is the total, so it replaces, never adds.
 */
export class GeminiStreamTranslator implements StreamTranslator {
  private identity: ChunkIdentity | undefined;
  private readonly started = new Set<number>();
  private readonly finished = new Set<number>();
  private lastUsage: UpstreamUsage = { promptTokens: 0, completionTokens: 0 };

  constructor(
    private readonly model: string,
    private readonly wantsUsage: boolean,
    private readonly credential: string,
  ) {}

  onData(data: string): string[] {
    let event: unknown;
    try {
      event = JSON.parse(data);
    } catch {
      throw upstreamBadResponse();
    }
    if (!isObj(event)) throw upstreamBadResponse();
    if (isObj(event.error)) throw fromStreamErrorEvent('gemini', event, this.credential);
    const blocked = promptBlocked(event);
    if (blocked) throw blocked;
    if (event.usageMetadata !== undefined) this.lastUsage = fromGeminiUsage(event.usageMetadata);
    this.identity ??= newIdentity(this.model, event.responseId);
    const out: string[] = [];
    candidatesOf(event).forEach((c, i) => {
      const index = typeof c.index === 'number' ? c.index : i;
      if (this.finished.has(index)) return;
      if (!this.started.has(index)) {
        this.started.add(index);
        out.push(this.chunk(index, { role: 'assistant', content: '' }, null));
      }
      const text = candidateText(c);
      if (text !== '') out.push(this.chunk(index, { content: text }, null));
      const finish = mapFinishReason(c.finishReason);
      if (finish) {
        this.finished.add(index);
        out.push(this.chunk(index, {}, finish));
      }
    });
    return out;
  }

  end(): string[] {
    // Every candidate that started must have finished; otherwise the upstream was cut mid-answer.
    if (this.finished.size === 0 || [...this.started].some((i) => !this.finished.has(i)))
      throw upstreamTruncated();
    const frames: string[] = [];
    if (this.wantsUsage && this.identity) {
      const { id, created, model } = this.identity;
      frames.push(
        sseFrame(
          JSON.stringify({
            id,
            object: 'chat.completion.chunk',
            created,
            model,
            choices: [],
            usage: openAiUsage(this.lastUsage),
          }),
        ),
      );
    }
    frames.push(DONE_FRAME);
    return frames;
  }

  usage(): UpstreamUsage {
    return this.lastUsage;
  }

  private chunk(index: number, delta: Json, finish: OpenAiFinish | null): string {
    const { id, created, model } = this.identity ?? newIdentity(this.model);
    const choice = { index, delta, logprobs: null, finish_reason: finish };
    // Like OpenAI: with include_usage, every chunk but the last carries `usage: null`.
    const usage = this.wantsUsage ? { usage: null } : {};
    return sseFrame(
      JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [choice], ...usage }),
    );
  }
}

/** The model segment of the URL; config may name it `models/gemini-…` as Google's docs do. */
const geminiModel = (model: string | undefined): string | undefined => model?.replace(/^models\//, '');

export const geminiAdapter: ProviderAdapter = {
  passThrough: false,
  prepare(c: AdapterCall): PreparedRequest {
    const model = pathSegment(geminiModel(c.target.model), 'model');
    const { origin, prefix } = parseBaseUrl(c.provider.baseUrl);
    // Google's base URL is the bare host; accept one that already names the API version.
    const root = /\/v1(beta)?$/.test(prefix) ? prefix : `${prefix}/v1beta`;
    const stream = c.endpoint === 'chat' && streamRequested(c.body);
    let method: string;
    let request: Json;
    if (c.endpoint === 'chat') {
      method = stream ? 'streamGenerateContent?alt=sse' : 'generateContent';
      request = toGeminiChat(c.body);
    } else {
      const embed = toGeminiEmbeddings(c.body, geminiModel(c.target.model) ?? '');
      method = embed.method;
      request = embed.request;
    }
    return {
      origin,
      path: `${root}/models/${model}:${method}`,
      headers: { ...jsonHeaders(stream), 'x-goog-api-key': c.credential },
      body: JSON.stringify(request),
      stream,
    };
  },
  fromJson(c, payload) {
    const model = geminiModel(c.target.model) ?? '';
    return c.endpoint === 'chat'
      ? fromGeminiChat(payload, model)
      : fromGeminiEmbeddings(payload, c.body, model);
  },
  streamTranslator: (c) =>
    new GeminiStreamTranslator(geminiModel(c.target.model) ?? '', clientWantsUsage(c.body), c.credential),
};
