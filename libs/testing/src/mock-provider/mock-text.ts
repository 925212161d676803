// Deterministic text, token and vector rules of the mock provider. The server uses exactly these functions,
// so a test can compute the "truth" a real provider would have reported and compare it with what keygate
// recorded (usage ledger, RequestCompleted events, cost).
//
// Token rule: a token is a whitespace-separated word (`text.trim().split(/\s+/)`), so
//   countTokens('hello  big\nworld') === 3 and countTokens('') === 0.
// - OpenAI / Azure chat prompt  = Σ over messages (countTokens(text of its content) + 1)
//   (the +1 per message stands for the role overhead; the text of an array content is its text parts).
// - Gemini prompt               = Σ over contents and systemInstruction (countTokens(text of its parts) + 1).
// - Embedding input             = Σ countTokens(each string), or the length of each token array.
// - Reply                       = "mock reply to: <first 5 words of the last user message>", or, when the model
//   name contains `mock-words-N`, N words of lorem ipsum; cut to max_tokens / max_completion_tokens /
//   generationConfig.maxOutputTokens words (finish reason `length` / `MAX_TOKENS`).
// - Completion tokens           = countTokens(reply) (times `n` for OpenAI's n > 1).

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function splitWords(text: string): string[] {
  const t = text.trim();
  return t === '' ? [] : t.split(/\s+/);
}

export function countTokens(text: string): number {
  return splitWords(text).length;
}

const LOREM = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et ' +
  'dolore magna aliqua'
).split(' ');
// Guards the process against a model name like mock-words-999999999.
const MAX_REPLY_WORDS = 100_000;

export interface MockReply {
  text: string;
  /** The words of `text`; streams send one word per chunk (with a leading space after the first). */
  words: string[];
  completionTokens: number;
  /** True when max tokens cut the reply. */
  truncated: boolean;
}

export function mockReply(
  lastUserText: string,
  opts: { model?: string; maxTokens?: number | null } = {},
): MockReply {
  const lorem = opts.model ? /mock-words-(\d+)/.exec(opts.model) : null;
  let words = lorem
    ? Array.from({ length: Math.min(Number(lorem[1]), MAX_REPLY_WORDS) }, (_, i) => LOREM[i % LOREM.length])
    : ['mock', 'reply', 'to:', ...splitWords(lastUserText).slice(0, 5)];
  const max = opts.maxTokens;
  const truncated = typeof max === 'number' && max >= 1 && words.length > max;
  if (truncated) words = words.slice(0, max);
  return { text: words.join(' '), words, completionTokens: words.length, truncated };
}

/** The text of an OpenAI message content: a string, or the `text` of its parts (images count 0). */
export function openAiContentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : ''))
    .filter((t) => t !== '')
    .join(' ');
}

export function chatPromptTokens(messages: readonly unknown[]): number {
  let n = 0;
  for (const m of messages) n += 1 + countTokens(openAiContentText(isObj(m) ? m.content : undefined));
  return n;
}

export interface ExpectedChat {
  content: string;
  words: string[];
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

/** What the mock answers to an OpenAI/Azure chat request (for Azure pass the deployment as `model`). */
export function expectedChatCompletion(body: {
  model?: unknown;
  messages?: unknown;
  max_tokens?: unknown;
  max_completion_tokens?: unknown;
  n?: unknown;
}): ExpectedChat {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = [...messages].reverse().find((m) => isObj(m) && m.role === 'user');
  const maxTokens = numberOr(body.max_completion_tokens, numberOr(body.max_tokens, undefined));
  const reply = mockReply(openAiContentText(isObj(lastUser) ? lastUser.content : undefined), {
    model: typeof body.model === 'string' ? body.model : undefined,
    maxTokens,
  });
  const n = Math.max(1, numberOr(body.n, 1) ?? 1);
  const promptTokens = chatPromptTokens(messages);
  const completionTokens = reply.completionTokens * n;
  return {
    content: reply.text,
    words: reply.words,
    finishReason: reply.truncated ? 'length' : 'stop',
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
  };
}

/** The text of a Gemini Content (`{ role?, parts: [{ text }] }`); a plain string is accepted too. */
export function geminiContentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!isObj(content) || !Array.isArray(content.parts)) return '';
  return content.parts
    .map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : ''))
    .filter((t) => t !== '')
    .join(' ');
}

export function geminiPromptTokens(body: { contents?: unknown; systemInstruction?: unknown }): number {
  const contents = Array.isArray(body.contents) ? body.contents : [];
  let n = 0;
  for (const c of contents) n += 1 + countTokens(geminiContentText(c));
  if (body.systemInstruction !== undefined) n += 1 + countTokens(geminiContentText(body.systemInstruction));
  return n;
}

export interface ExpectedGemini {
  text: string;
  words: string[];
  finishReason: 'STOP' | 'MAX_TOKENS';
  promptTokenCount: number;
  candidatesTokenCount: number;
  totalTokenCount: number;
}

/** What the mock answers to a Gemini generateContent request for `model` (the name in the URL). */
export function expectedGeminiResponse(
  body: { contents?: unknown; systemInstruction?: unknown; generationConfig?: unknown },
  model: string,
): ExpectedGemini {
  const contents = Array.isArray(body.contents) ? body.contents : [];
  const lastUser = [...contents]
    .reverse()
    .find((c) => isObj(c) && (c.role === undefined || c.role === 'user'));
  const config = isObj(body.generationConfig) ? body.generationConfig : {};
  const reply = mockReply(geminiContentText(lastUser), {
    model,
    maxTokens: numberOr(config.maxOutputTokens, undefined),
  });
  const promptTokenCount = geminiPromptTokens(body);
  return {
    text: reply.text,
    words: reply.words,
    finishReason: reply.truncated ? 'MAX_TOKENS' : 'STOP',
    promptTokenCount,
    candidatesTokenCount: reply.completionTokens,
    totalTokenCount: promptTokenCount + reply.completionTokens,
  };
}

/** OpenAI embeddings `input`: a string, strings, a token array or token arrays. */
export function embeddingInputs(input: unknown): Array<string | number[]> {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input)) return [];
  if (input.length > 0 && input.every((x) => typeof x === 'number')) return [input as number[]];
  return input.filter((x): x is string | number[] => typeof x === 'string' || Array.isArray(x));
}

export function embeddingInputTokens(input: unknown): number {
  return embeddingInputs(input).reduce((n, x) => n + (typeof x === 'string' ? countTokens(x) : x.length), 0);
}

/**
 * A unit-length vector derived from the text (FNV-1a seed, xorshift32), values rounded to float32 so the
 * base64 encoding (little-endian float32, what the openai SDK asks for by default) decodes to the same numbers.
 */
export function mockEmbedding(text: string, dimensions: number): number[] {
  let seed = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) seed = Math.imul(seed ^ text.charCodeAt(i), 0x01000193);
  seed = seed >>> 0 || 1;
  const v = new Array<number>(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    v[i] = seed / 0x80000000 - 1;
    norm += v[i] * v[i];
  }
  norm = Math.sqrt(norm) || 1;
  for (let i = 0; i < dimensions; i++) v[i] = Math.fround(v[i] / norm);
  return v;
}

export function embeddingToBase64(values: number[]): string {
  return Buffer.from(new Float32Array(values).buffer).toString('base64');
}

function numberOr<T>(v: unknown, fallback: T): number | T {
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}
