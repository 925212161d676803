import { fromGeminiChat, GeminiStreamTranslator, mapFinishReason, toGeminiChat } from './gemini.adapter';
import { fromGeminiEmbeddings, toGeminiEmbeddings } from './gemini-embeddings';
import { UpstreamError } from './upstream-error';

const parseFrame = (f: string): unknown =>
  f === 'data: [DONE]\n\n' ? '[DONE]' : JSON.parse(f.replace(/^data: /, ''));

const usageMetadata = (prompt: number, candidates: number) => ({
  promptTokenCount: prompt,
  candidatesTokenCount: candidates,
  totalTokenCount: prompt + candidates,
});

const thrown = (fn: () => unknown): UpstreamError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof UpstreamError) return e;
    throw e;
  }
  throw new Error('expected an UpstreamError');
};

describe('toGeminiChat', () => {
  it('maps roles, system messages and text parts', () => {
    const out = toGeminiChat({
      model: 'ignored',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'developer', content: [{ type: 'text', text: 'and kind' }] },
        { role: 'user', content: 'hello' },
        { role: 'assistant', content: 'hi' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'part one' },
            { type: 'text', text: 'part two' },
          ],
        },
      ],
    });
    expect(out).toEqual({
      contents: [
        { role: 'user', parts: [{ text: 'hello' }] },
        { role: 'model', parts: [{ text: 'hi' }] },
        { role: 'user', parts: [{ text: 'part one' }, { text: 'part two' }] },
      ],
      systemInstruction: { parts: [{ text: 'be brief' }, { text: 'and kind' }] },
    });
    expect(out).not.toHaveProperty('model');
  });

  it('maps sampling options to generationConfig, max_completion_tokens winning over max_tokens', () => {
    const out = toGeminiChat({
      messages: [{ role: 'user', content: 'x' }],
      temperature: 0.2,
      top_p: 0.9,
      max_tokens: 50,
      max_completion_tokens: 20,
      stop: 'END',
      n: 2,
      response_format: { type: 'json_object' },
      stream: true,
    });
    expect(out.generationConfig).toEqual({
      temperature: 0.2,
      topP: 0.9,
      maxOutputTokens: 20,
      stopSequences: ['END'],
      candidateCount: 2,
      responseMimeType: 'application/json',
    });
    expect(
      toGeminiChat({ messages: [{ role: 'user', content: 'x' }], stop: ['a', 'b'], max_tokens: 5 })
        .generationConfig,
    ).toEqual({
      stopSequences: ['a', 'b'],
      maxOutputTokens: 5,
    });
    expect(toGeminiChat({ messages: [{ role: 'user', content: 'x' }] })).not.toHaveProperty(
      'generationConfig',
    );
  });

  it('refuses what it cannot express, as retryable so the next target may serve it', () => {
    const tools = thrown(() =>
      toGeminiChat({ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function' }] }),
    );
    expect(tools).toMatchObject({ status: 400, code: 'unsupported_parameter', retryable: true });
    const image = thrown(() =>
      toGeminiChat({
        messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:' } }] }],
      }),
    );
    expect(image).toMatchObject({ status: 400, code: 'unsupported_parameter', retryable: true });
    expect(thrown(() => toGeminiChat({ messages: [{ role: 'tool', content: 'x' }] })).code).toBe(
      'unsupported_parameter',
    );
    expect(thrown(() => toGeminiChat({ messages: 'x' }))).toMatchObject({ status: 400, retryable: false });
  });
});

describe('fromGeminiChat', () => {
  it('builds an OpenAI chat.completion with usage from usageMetadata', () => {
    const { body, usage } = fromGeminiChat(
      {
        candidates: [
          {
            content: {
              role: 'model',
              parts: [{ text: 'thinking…', thought: true }, { text: 'Hello' }, { text: ' world' }],
            },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: { ...usageMetadata(7, 2), thoughtsTokenCount: 3 },
        responseId: 'abc123',
      },
      'gemini-2.0-flash',
    );
    expect(usage).toEqual({ promptTokens: 7, completionTokens: 5 });
    expect(body).toEqual({
      id: 'chatcmpl-abc123',
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'gemini-2.0-flash',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'Hello world', refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 },
    });
  });

  it('maps finish reasons', () => {
    expect(mapFinishReason('STOP')).toBe('stop');
    expect(mapFinishReason('MAX_TOKENS')).toBe('length');
    expect(mapFinishReason('SAFETY')).toBe('content_filter');
    expect(mapFinishReason('RECITATION')).toBe('content_filter');
    expect(mapFinishReason('OTHER')).toBe('stop');
    expect(mapFinishReason(undefined)).toBeNull();
  });

  it('turns a blocked prompt into a 400 content_filter error', () => {
    expect(thrown(() => fromGeminiChat({ promptFeedback: { blockReason: 'SAFETY' } }, 'm'))).toMatchObject({
      status: 400,
      code: 'content_filter',
      retryable: false,
    });
  });
});

describe('GeminiStreamTranslator', () => {
  const event = (text: string, sent: number, finishReason?: string) =>
    JSON.stringify({
      candidates: [
        {
          content: { role: 'model', parts: [{ text }] },
          index: 0,
          ...(finishReason ? { finishReason } : {}),
        },
      ],
      usageMetadata: usageMetadata(4, sent),
      responseId: 'r1',
    });

  it('sends a role chunk, content deltas, a finish chunk, the usage chunk when asked, then [DONE]', () => {
    const t = new GeminiStreamTranslator('gemini-2.0-flash', true, 'secret');
    const frames = [
      ...t.onData(event('Hello', 1)),
      ...t.onData(event(' big', 2)),
      ...t.onData(event(' world', 3, 'MAX_TOKENS')),
      ...t.end(),
    ];
    const chunks = frames.map(parseFrame) as Array<Record<string, any>>;
    expect(chunks.map((c) => (c === ('[DONE]' as unknown) ? c : (c.choices[0]?.delta ?? 'usage')))).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hello' },
      { content: ' big' },
      { content: ' world' },
      {},
      'usage',
      '[DONE]',
    ]);
    expect(chunks[4].choices[0].finish_reason).toBe('length');
    expect(chunks[0]).toMatchObject({
      id: 'chatcmpl-r1',
      object: 'chat.completion.chunk',
      model: 'gemini-2.0-flash',
      usage: null,
    });
    expect(new Set(chunks.slice(0, 6).map((c) => c.id)).size).toBe(1);
    // Cumulative usageMetadata: the last one is the total (3), not the sum (6).
    expect(chunks[5]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 4, completion_tokens: 3, total_tokens: 7 },
    });
    expect(t.usage()).toEqual({ promptTokens: 4, completionTokens: 3 });
  });

  it('leaves the usage chunk out when the client did not ask for it, and still records usage', () => {
    const t = new GeminiStreamTranslator('m', false, 'secret');
    const frames = [...t.onData(event('a', 1)), ...t.onData(event(' b', 2, 'STOP')), ...t.end()];
    const chunks = frames.map(parseFrame) as Array<Record<string, any>>;
    expect(chunks).toHaveLength(5);
    expect(chunks.slice(0, 4).every((c) => c.choices.length === 1 && !('usage' in c))).toBe(true);
    expect(chunks[4]).toBe('[DONE]');
    expect(t.usage()).toEqual({ promptTokens: 4, completionTokens: 2 });
  });

  it('throws when the stream ends before a finish reason, or carries an error event', () => {
    const cut = new GeminiStreamTranslator('m', false, 'secret');
    cut.onData(event('a', 1));
    expect(thrown(() => cut.end())).toMatchObject({
      status: 502,
      code: 'upstream_unavailable',
      retryable: true,
    });
    const failing = new GeminiStreamTranslator('m', false, 'secret');
    const err = thrown(() =>
      failing.onData(JSON.stringify({ error: { code: 503, message: 'overloaded', status: 'UNAVAILABLE' } })),
    );
    expect(err).toMatchObject({ status: 502, retryable: true });
  });
});

describe('Gemini embeddings', () => {
  it('uses embedContent for one string and batchEmbedContents for a list', () => {
    expect(toGeminiEmbeddings({ input: 'hello world', dimensions: 8 }, 'text-embedding-004')).toEqual({
      method: 'embedContent',
      request: {
        model: 'models/text-embedding-004',
        content: { parts: [{ text: 'hello world' }] },
        outputDimensionality: 8,
      },
    });
    expect(toGeminiEmbeddings({ input: ['a', 'b c'] }, 'e')).toEqual({
      method: 'batchEmbedContents',
      request: {
        requests: [
          { model: 'models/e', content: { parts: [{ text: 'a' }] } },
          { model: 'models/e', content: { parts: [{ text: 'b c' }] } },
        ],
      },
    });
    expect(thrown(() => toGeminiEmbeddings({ input: [[1, 2]] }, 'e'))).toMatchObject({
      status: 400,
      retryable: true,
    });
  });

  it('answers an OpenAI embedding list, base64 when asked, usage from words unless reported', () => {
    const payload = { embeddings: [{ values: [0.5, -0.25] }, { values: [1, 0] }] };
    const { body, usage } = fromGeminiEmbeddings(payload, { input: ['a b', 'c'] }, 'e');
    expect(body).toEqual({
      object: 'list',
      data: [
        { object: 'embedding', index: 0, embedding: [0.5, -0.25] },
        { object: 'embedding', index: 1, embedding: [1, 0] },
      ],
      model: 'e',
      usage: { prompt_tokens: 3, total_tokens: 3 },
    });
    expect(usage).toEqual({ promptTokens: 3, completionTokens: 0 });
    const b64 = fromGeminiEmbeddings(
      { embedding: { values: [0.5, -0.25] } },
      { input: 'x', encoding_format: 'base64' },
      'e',
    );
    const data = (b64.body.data as Array<{ embedding: string }>)[0].embedding;
    const buf = Buffer.from(data, 'base64');
    expect(Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4))).toEqual([0.5, -0.25]);
    const reported = fromGeminiEmbeddings(
      { embedding: { values: [1] }, usageMetadata: { promptTokenCount: 9 } },
      { input: 'x' },
      'e',
    );
    expect(reported.usage.promptTokens).toBe(9);
  });
});
