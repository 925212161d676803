import type * as Encoding from 'gpt-tokenizer/encoding/o200k_base';
import type { UpstreamEndpoint } from '../proxy/upstream';

// A request's worst case, before it goes upstream: how many prompt tokens it can be billed for and how many
// completion tokens it may be answered with. Budgets reserve its cost at admission (admission/admission.ts) and
// settle the exact cost after the answer, so the estimate must not be below what the provider will bill.
//
// Prompt tokens, counted with the tokenizer of the model family (gpt-tokenizer):
// - gpt-4o, gpt-4.1, gpt-5, o-series and anything unknown: o200k_base; gpt-4 / gpt-3.5: cl100k_base.
// - Gemini: no maintained tokenizer for it in JS; the documented conservative estimate is twice the o200k count.
// - Chat (OpenAI's published formula, rounded up): 4 per message + its role, name and text, the JSON of its tool
//   calls, the JSON of `tools`/`functions`/`response_format`, + 3 for the reply's priming. An image part counts
//   IMAGE_TOKENS (the most a high-detail image costs on gpt-4o; ×33 on the mini models, as OpenAI bills them).
//   Any other content part counts the tokens of its JSON.
// - Embeddings: the tokens of each input string, or the length of each token array.
// Completion tokens: the client's `max_completion_tokens`/`max_tokens` (the larger, when both are set), else the
// route's `maxOutputTokens`; times `n` choices.

const IMAGE_TOKENS = 1_105;

export interface RequestEstimate {
  promptTokens: number;
  // Completion tokens per choice the client allows (its own limit, else the route's maximum).
  maxCompletionTokens: number;
  // Whether that limit is the client's own (false: the route's maximum stood in for a missing one).
  clientLimited: boolean;
  choices: number;
}

type Counter = (text: string) => number;

// A message's text is text: a special token's spelling in it ("<|endoftext|>") is counted as the characters it is,
// as the provider reads it. gpt-tokenizer's default refuses such text with an exception (a 500 for the request).
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

// The encodings are megabytes of tables (≈ 0.4 s to load): not at start-up, but on first use or in the background
// once the gateway listens (warmTokenizers).
const encoding = (name: 'o200k_base' | 'cl100k_base'): (() => Counter) => {
  let count: Counter | undefined;
  return () => {
    if (!count) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { countTokens } = require(`gpt-tokenizer/encoding/${name}`) as typeof Encoding;
      count = (text) => countTokens(text, PLAIN_TEXT);
    }
    return count;
  };
};
const o200kCounter = encoding('o200k_base');
const cl100kCounter = encoding('cl100k_base');
const o200k: Counter = (text) => o200kCounter()(text);
const cl100k: Counter = (text) => cl100kCounter()(text);

export const warmTokenizers = (): void => {
  o200kCounter();
  cl100kCounter();
};

const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const positive = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;

const counterFor = (model: string): Counter => {
  if (/^gemini/i.test(model)) return (text) => 2 * o200k(text);
  if (/^gpt-(4(?![o.])|3\.5)/i.test(model)) return cl100k;
  return o200k;
};

const jsonTokens = (v: unknown, count: Counter): number => (v === undefined ? 0 : count(JSON.stringify(v)));

const contentTokens = (content: unknown, count: Counter, image: number): number => {
  if (typeof content === 'string') return count(content);
  if (!Array.isArray(content)) return jsonTokens(content, count);
  let n = 0;
  for (const part of content) {
    if (isObj(part) && typeof part.text === 'string') n += count(part.text);
    else if (isObj(part) && part.type === 'image_url') n += image;
    else n += jsonTokens(part, count);
  }
  return n;
};

const chatPromptTokens = (body: Record<string, unknown>, model: string, count: Counter): number => {
  const image = /mini/i.test(model) ? IMAGE_TOKENS * 33 : IMAGE_TOKENS;
  let n = 3;
  const messages = Array.isArray(body.messages) ? (body.messages as unknown[]) : [];
  for (const m of messages) {
    n += 4;
    if (!isObj(m)) {
      n += jsonTokens(m, count);
      continue;
    }
    for (const [field, value] of Object.entries(m)) {
      if (field === 'content') n += contentTokens(value, count, image);
      else if (typeof value === 'string') n += count(value) + 1;
      else n += jsonTokens(value, count);
    }
  }
  for (const field of ['tools', 'functions', 'response_format', 'tool_choice'])
    n += jsonTokens(body[field], count);
  return n;
};

const embeddingTokens = (input: unknown, count: Counter): number => {
  if (typeof input === 'string') return count(input);
  if (!Array.isArray(input)) return jsonTokens(input, count);
  if (input.every((x) => typeof x === 'number')) return input.length;
  let n = 0;
  for (const x of input)
    n += typeof x === 'string' ? count(x) : Array.isArray(x) ? x.length : jsonTokens(x, count);
  return n;
};

/** The worst case of `body` sent to `endpoint` on a route whose (priciest) upstream model is `model`. */
export const estimateRequest = (
  endpoint: UpstreamEndpoint,
  body: Record<string, unknown>,
  model: string,
  routeMaxOutputTokens: number,
): RequestEstimate => {
  const count = counterFor(model);
  if (endpoint !== 'chat')
    return {
      promptTokens: embeddingTokens(body.input, count),
      maxCompletionTokens: 0,
      clientLimited: true,
      choices: 1,
    };
  const limits = [positive(body.max_completion_tokens), positive(body.max_tokens)].filter(
    (x): x is number => x !== undefined,
  );
  return {
    promptTokens: chatPromptTokens(body, model, count),
    maxCompletionTokens: limits.length > 0 ? Math.max(...limits) : routeMaxOutputTokens,
    clientLimited: limits.length > 0,
    choices: positive(body.n) ?? 1,
  };
};

/**
 * Sets the body's completion limit to `tokens` (the budget could not pay for more): every limit field the client
 * set, or `max_tokens` when it set none (the Gemini adapter maps it to `maxOutputTokens`).
 */
export const clampCompletion = (body: Record<string, unknown>, tokens: number): Record<string, unknown> => {
  const out = { ...body };
  const fields = ['max_completion_tokens', 'max_tokens'].filter((f) => body[f] !== undefined);
  for (const f of fields.length > 0 ? fields : ['max_tokens']) out[f] = tokens;
  return out;
};
