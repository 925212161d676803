// OpenAI embeddings ⇄ Gemini embedContent (one string) / batchEmbedContents (a list of strings).
// Usage: the Gemini API reports no token count for embeddings today, so when the answer carries no
// usageMetadata the prompt tokens are the input's whitespace-separated words — an estimate, and exactly
// what the mock provider counts. A reported usageMetadata.promptTokenCount always wins.
import { count, isObj, type UpstreamUsage } from './upstream-adapter';
import { upstreamBadResponse, UpstreamError } from './upstream-error';

type Json = Record<string, unknown>;

const inputsOf = (input: unknown): string[] => {
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((x) => typeof x === 'string'))
    return input as string[];
  // Token arrays: Gemini has no token input. Another target of the route may take them.
  if (Array.isArray(input) && input.length > 0)
    throw new UpstreamError(
      400,
      'unsupported_parameter',
      "Token-array `input` is not supported by this route's provider.",
      true,
    );
  throw new UpstreamError(
    400,
    'invalid_request_error',
    '`input` must be a string or a non-empty array of strings.',
    false,
  );
};

export const toGeminiEmbeddings = (body: Json, model: string): { method: string; request: Json } => {
  const inputs = inputsOf(body.input);
  const dims =
    typeof body.dimensions === 'number' && body.dimensions > 0
      ? { outputDimensionality: body.dimensions }
      : {};
  const one = (text: string): Json => ({ model: `models/${model}`, content: { parts: [{ text }] }, ...dims });
  return typeof body.input === 'string'
    ? { method: 'embedContent', request: one(inputs[0]) }
    : { method: 'batchEmbedContents', request: { requests: inputs.map(one) } };
};

const wordCount = (text: string): number => {
  const t = text.trim();
  return t === '' ? 0 : t.split(/\s+/).length;
};

// What the openai SDK asks for by default: little-endian float32, base64.
const toBase64 = (values: number[]): string =>
  Buffer.from(new Float32Array(values).buffer).toString('base64');

const valuesOf = (e: unknown): number[] => {
  if (!isObj(e) || !Array.isArray(e.values) || !e.values.every((v) => typeof v === 'number'))
    throw upstreamBadResponse();
  return e.values as number[];
};

export const fromGeminiEmbeddings = (
  payload: unknown,
  body: Json,
  model: string,
): { body: Json; usage: UpstreamUsage } => {
  if (!isObj(payload)) throw upstreamBadResponse();
  const vectors = isObj(payload.embedding)
    ? [valuesOf(payload.embedding)]
    : Array.isArray(payload.embeddings)
      ? payload.embeddings.map(valuesOf)
      : undefined;
  if (!vectors) throw upstreamBadResponse();
  const base64 = body.encoding_format === 'base64';
  const reported = isObj(payload.usageMetadata) ? payload.usageMetadata.promptTokenCount : undefined;
  const promptTokens =
    typeof reported === 'number'
      ? count(reported)
      : inputsOf(body.input).reduce((n, text) => n + wordCount(text), 0);
  return {
    body: {
      object: 'list',
      data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: base64 ? toBase64(v) : v })),
      model,
      usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    },
    usage: { promptTokens, completionTokens: 0 },
  };
};
