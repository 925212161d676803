// Google Gemini (Generative Language API, v1beta) wire format: generateContent, streamGenerateContent
// (SSE with ?alt=sse, otherwise a streamed JSON array, as Google does), embedContent, batchEmbedContents,
// countTokens, the model list and Google's error shape `{ error: { code, message, status } }`.
import { ChunkWriter, dropConnection, randomId, sendJson, type MockContext } from './mock-http';
import type { ErrorReply } from './openai';
import {
  countTokens,
  expectedGeminiResponse,
  geminiContentText,
  geminiPromptTokens,
  isObj,
  mockEmbedding,
} from './mock-text';

export const GEMINI_MODELS = ['gemini-2.0-flash', 'gemini-2.5-flash', 'gemini-2.5-pro', 'text-embedding-004'];
const DEFAULT_EMBEDDING_DIMENSIONS = 768;

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function geminiError(status: number, message: string) {
  return { error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN' } };
}

export function scriptedGeminiFailure(status: number): ErrorReply {
  const message =
    status === 429
      ? 'Resource has been exhausted (e.g. check quota).'
      : status === 503
        ? 'The model is overloaded. Please try again later.'
        : status >= 500
          ? 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'
          : `Mock failure ${status}.`;
  return { status, body: geminiError(status, message) };
}

export async function handleGemini(ctx: MockContext, method: string): Promise<void> {
  const body = isObj(ctx.body) ? ctx.body : {};
  switch (method) {
    case 'generateContent':
    case 'streamGenerateContent':
      if (!Array.isArray(body.contents) || body.contents.length === 0) {
        return invalid(ctx, '* GenerateContentRequest.contents: contents is not specified\n');
      }
      return method === 'generateContent' ? generate(ctx, body) : stream(ctx, body);
    case 'embedContent': {
      if (!isObj(body.content))
        return invalid(ctx, '* EmbedContentRequest.content: content is not specified\n');
      if (ctx.drop) return dropConnection(ctx);
      return sendJson(ctx.res, 200, { embedding: embed(body) });
    }
    case 'batchEmbedContents': {
      const requests = Array.isArray(body.requests) ? body.requests : [];
      if (requests.length === 0)
        return invalid(ctx, '* BatchEmbedContentsRequest.requests: requests is not specified\n');
      if (ctx.drop) return dropConnection(ctx);
      return sendJson(ctx.res, 200, { embeddings: requests.map((r) => embed(isObj(r) ? r : {})) });
    }
    case 'countTokens': {
      // Accepts { contents } or { generateContentRequest: { contents, systemInstruction } }.
      const inner = isObj(body.generateContentRequest) ? body.generateContentRequest : body;
      const totalTokens = geminiPromptTokens(inner);
      return sendJson(ctx.res, 200, {
        totalTokens,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: totalTokens }],
      });
    }
    default:
      return sendJson(ctx.res, 404, geminiError(404, `Method ${method} not found for model ${ctx.model}.`));
  }
}

export function handleGeminiModels(ctx: MockContext): void {
  const models = GEMINI_MODELS.map((id) => ({
    name: `models/${id}`,
    version: '001',
    displayName: id,
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 8_192,
    supportedGenerationMethods: id.includes('embedding')
      ? ['embedContent']
      : ['generateContent', 'countTokens', 'streamGenerateContent'],
  }));
  sendJson(ctx.res, 200, { models });
}

function invalid(ctx: MockContext, message: string): void {
  sendJson(ctx.res, 400, geminiError(400, message));
}

function embed(req: Record<string, unknown>) {
  const dims =
    typeof req.outputDimensionality === 'number' && req.outputDimensionality > 0
      ? req.outputDimensionality
      : DEFAULT_EMBEDDING_DIMENSIONS;
  return { values: mockEmbedding(geminiContentText(req.content), dims) };
}

function usageMetadata(promptTokens: number, candidatesTokens: number) {
  return {
    promptTokenCount: promptTokens,
    candidatesTokenCount: candidatesTokens,
    totalTokenCount: promptTokens + candidatesTokens,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: promptTokens }],
  };
}

function generate(ctx: MockContext, body: Record<string, unknown>): void {
  if (ctx.drop) return dropConnection(ctx);
  const exp = expectedGeminiResponse(body, ctx.model);
  sendJson(ctx.res, 200, {
    candidates: [
      { content: { parts: [{ text: exp.text }], role: 'model' }, finishReason: exp.finishReason, index: 0 },
    ],
    usageMetadata: usageMetadata(exp.promptTokenCount, exp.candidatesTokenCount),
    modelVersion: ctx.model,
    responseId: randomId(22),
  });
}

// One word per chunk. Like Google, every chunk carries usageMetadata, cumulative (the last one is the
// call's total: a consumer that keeps the first, or sums them, is wrong); the last chunk also carries
// finishReason. SSE events are separated by CRLF CRLF, as Google's are.
async function stream(ctx: MockContext, body: Record<string, unknown>): Promise<void> {
  const exp = expectedGeminiResponse(body, ctx.model);
  const sse = ctx.url.searchParams.get('alt') === 'sse';
  const responseId = randomId(22);
  const words = exp.words.length > 0 ? exp.words : [''];
  ctx.res.writeHead(200, {
    'content-type': sse ? 'text/event-stream' : 'application/json; charset=UTF-8',
    'cache-control': 'no-cache',
  });
  const out = new ChunkWriter(ctx);
  let sent = 0;
  const half = Math.floor(words.length / 2);
  for (let w = 0; w < words.length; w++) {
    if (ctx.drop && w === half) return dropConnection(ctx);
    const text = w === 0 ? words[w] : ` ${words[w]}`;
    sent += countTokens(words[w]);
    const last = w === words.length - 1;
    const chunk = {
      candidates: [
        {
          content: { parts: [{ text }], role: 'model' },
          ...(last ? { finishReason: exp.finishReason } : {}),
          index: 0,
        },
      ],
      usageMetadata: usageMetadata(exp.promptTokenCount, sent),
      modelVersion: ctx.model,
      responseId,
    };
    const json = JSON.stringify(chunk);
    const piece = sse ? `data: ${json}\r\n\r\n` : `${w === 0 ? '[' : ',\r\n'}${json}${last ? ']' : ''}`;
    if (!(await out.send(piece))) return;
  }
  out.end();
}
