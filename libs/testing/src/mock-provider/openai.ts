// OpenAI and Azure OpenAI wire formats: chat completions (plain and SSE), embeddings, models, errors.
// Azure answers the same bodies plus its content-filter annotations, and its own error shape for
// gateway-level failures (401/404/429/5xx), as the real service does.
import { ChunkWriter, dropConnection, sendJson, randomId, type MockContext } from './mock-http';
import {
  embeddingInputs,
  embeddingInputTokens,
  embeddingToBase64,
  expectedChatCompletion,
  isObj,
  mockEmbedding,
} from './mock-text';

export const OPENAI_MODELS = [
  'gpt-4o-mini',
  'gpt-4o',
  'gpt-4.1-mini',
  'text-embedding-3-small',
  'text-embedding-3-large',
];
const DEFAULT_EMBEDDING_DIMENSIONS = 1536;
const FINGERPRINT = 'fp_mock0000';

export interface ErrorReply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function openAiError(
  status: number,
  message: string,
  code: string | null = null,
  param: string | null = null,
) {
  const type = status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  return { error: { message, type, param, code } };
}

export function azureError(status: number, message: string) {
  return { error: { code: String(status), message } };
}

/** The body a real OpenAI / Azure sends for a given failure status (scripted failures use it). */
export function scriptedOpenAiFailure(status: number, azure: boolean): ErrorReply {
  const headers: Record<string, string> =
    status === 429 ? { 'retry-after': '1', 'retry-after-ms': '1000' } : {};
  if (azure) {
    const message =
      status === 429
        ? 'Requests to the ChatCompletions_Create Operation have exceeded the rate limit of your current pricing tier. Please retry after 1 second.'
        : status === 401
          ? 'Access denied due to invalid subscription key or wrong API endpoint.'
          : status === 404
            ? 'Resource not found'
            : `The service returned ${status} (mock failure).`;
    return { status, body: azureError(status, message), headers };
  }
  const [message, code] =
    status === 401
      ? ['Incorrect API key provided.', 'invalid_api_key']
      : status === 404
        ? ['The model does not exist or you do not have access to it.', 'model_not_found']
        : status === 429
          ? ['Rate limit reached for requests. Please try again in 1s.', 'rate_limit_exceeded']
          : status === 503
            ? ['The engine is currently overloaded, please try again later.', null]
            : status >= 500
              ? ['The server had an error while processing your request. Sorry about that!', null]
              : [`Mock failure ${status}.`, null];
  return { status, body: openAiError(status, message, code), headers };
}

function usage(promptTokens: number, completionTokens: number) {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

const SAFE = { filtered: false, severity: 'safe' };
const CONTENT_FILTER = { hate: SAFE, self_harm: SAFE, sexual: SAFE, violence: SAFE };
const PROMPT_FILTER = [{ prompt_index: 0, content_filter_results: CONTENT_FILTER }];

function invalid(ctx: MockContext, message: string, param: string | null, code: string | null = null): void {
  sendJson(ctx.res, 400, openAiError(400, message, code, param));
}

export async function handleChat(ctx: MockContext, azure: boolean): Promise<void> {
  const body = isObj(ctx.body) ? ctx.body : {};
  if (!azure && typeof body.model !== 'string')
    return invalid(ctx, 'you must provide a model parameter', null);
  if (!Array.isArray(body.messages)) {
    return invalid(ctx, "Missing required parameter: 'messages'.", 'messages', 'missing_required_parameter');
  }
  if (body.messages.length === 0)
    return invalid(ctx, "[] is too short - 'messages'", 'messages', 'empty_array');

  const model = ctx.model;
  const exp = expectedChatCompletion({ ...body, model });
  const n = typeof body.n === 'number' && body.n > 1 ? Math.floor(body.n) : 1;
  const id = `chatcmpl-${randomId(29)}`;
  const created = Math.floor(Date.now() / 1000);
  const finish = exp.finishReason;
  const headers = { 'x-request-id': `req_${randomId(24)}` };

  if (body.stream !== true) {
    if (ctx.drop) return dropConnection(ctx);
    const choices = Array.from({ length: n }, (_, index) => ({
      index,
      message: { role: 'assistant', content: exp.content, refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: finish,
      ...(azure ? { content_filter_results: CONTENT_FILTER } : {}),
    }));
    return sendJson(
      ctx.res,
      200,
      {
        id,
        object: 'chat.completion',
        created,
        model,
        choices,
        usage: usage(exp.promptTokens, exp.completionTokens),
        ...(azure ? { prompt_filter_results: PROMPT_FILTER } : { service_tier: 'default' }),
        system_fingerprint: FINGERPRINT,
      },
      headers,
    );
  }

  // Streaming, as OpenAI: a role chunk, one chunk per word, a finish chunk per choice, the usage chunk
  // (empty choices) when stream_options.include_usage, then [DONE]. With include_usage every chunk carries
  // `usage: null`. Azure first sends a chunk with empty choices and the prompt filter results.
  const includeUsage = isObj(body.stream_options) && body.stream_options.include_usage === true;
  const base = { id, object: 'chat.completion.chunk', created, model, system_fingerprint: FINGERPRINT };
  const tail = includeUsage ? { usage: null } : {};
  const filter = azure ? { content_filter_results: CONTENT_FILTER } : {};
  const event = (choices: unknown[]) => `data: ${JSON.stringify({ ...base, choices, ...tail })}\n\n`;
  const choice = (index: number, delta: unknown, finishReason: string | null, extra: object = filter) => ({
    index,
    delta,
    logprobs: null,
    finish_reason: finishReason,
    ...extra,
  });

  ctx.res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    ...headers,
  });
  const out = new ChunkWriter(ctx);
  if (azure) {
    const first = {
      choices: [],
      created: 0,
      id: '',
      model: '',
      object: '',
      prompt_filter_results: PROMPT_FILTER,
    };
    if (!(await out.send(`data: ${JSON.stringify(first)}\n\n`))) return;
  }
  for (let i = 0; i < n; i++) {
    const delta = { role: 'assistant', content: '', refusal: null };
    if (!(await out.send(event([choice(i, delta, null, azure ? { content_filter_results: {} } : {})]))))
      return;
  }
  const half = Math.floor(exp.words.length / 2);
  for (let w = 0; w < exp.words.length; w++) {
    if (ctx.drop && w === half) return dropConnection(ctx);
    const content = w === 0 ? exp.words[w] : ` ${exp.words[w]}`;
    for (let i = 0; i < n; i++) if (!(await out.send(event([choice(i, { content }, null)])))) return;
  }
  if (ctx.drop) return dropConnection(ctx);
  for (let i = 0; i < n; i++) if (!(await out.send(event([choice(i, {}, finish)])))) return;
  if (includeUsage) {
    const last = { ...base, choices: [], usage: usage(exp.promptTokens, exp.completionTokens) };
    if (!(await out.send(`data: ${JSON.stringify(last)}\n\n`))) return;
  }
  if (await out.send('data: [DONE]\n\n')) out.end();
}

export function handleEmbeddings(ctx: MockContext): void {
  const body = isObj(ctx.body) ? ctx.body : {};
  if (body.input === undefined) {
    return invalid(ctx, "Missing required parameter: 'input'.", 'input', 'missing_required_parameter');
  }
  const inputs = embeddingInputs(body.input);
  if (inputs.length === 0) return invalid(ctx, "'$.input' is invalid.", 'input');
  if (ctx.drop) return dropConnection(ctx);
  const dimensions =
    typeof body.dimensions === 'number' && body.dimensions > 0
      ? body.dimensions
      : DEFAULT_EMBEDDING_DIMENSIONS;
  const base64 = body.encoding_format === 'base64';
  const data = inputs.map((input, index) => {
    const values = mockEmbedding(typeof input === 'string' ? input : input.join(','), dimensions);
    return { object: 'embedding', index, embedding: base64 ? embeddingToBase64(values) : values };
  });
  const tokens = embeddingInputTokens(body.input);
  sendJson(ctx.res, 200, {
    object: 'list',
    data,
    model: ctx.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

function modelObject(id: string) {
  return { id, object: 'model', created: 1_700_000_000, owned_by: 'system' };
}

export function handleModels(ctx: MockContext, id?: string): void {
  if (id !== undefined) return sendJson(ctx.res, 200, modelObject(id));
  sendJson(ctx.res, 200, { object: 'list', data: OPENAI_MODELS.map(modelObject) });
}
